# bench/chart.gp: sequential throughput per target, drawn by bench/run.
#   gnuplot -e "datafile='chart.dat'; outfile='throughput.png'; ymax=1500; title='...'" \
#     bench/chart.gp
# chart.dat: "target" read_MBps write_MBps degraded_read_MBps (NaN when not measured);
# the first two rows are the raw AoE ceiling and the NBD ceiling.
# The raw read ceiling (first row), read before any range is set: stats obeys ranges.
stats datafile using 2 every ::0::0 nooutput
raw_read = STATS_max

set terminal pngcairo size 1100,620 font "DejaVu Sans,11" noenhanced
set output outfile
set title title
set datafile missing "NaN"
set style data histograms
set style histogram clustered gap 1.5
set style fill solid 0.85 border -1
set boxwidth 0.9
set ylabel "MB/s"
# Bars above YMAX (the memory plugin's reads) are cut; their figures go in the tic label.
set yrange [0:ymax]
set grid ytics lc rgb "#dddddd"
set key top right horizontal
set bmargin 4.5
set xtics nomirror
# A line across the chart at the raw read ceiling, to read each bar against it.
set arrow from graph 0, first raw_read to graph 1, first raw_read nohead lc rgb "#cc0000" dt 2 lw 2
set label sprintf("raw read ceiling %.0f MB/s", raw_read) right at graph 0.99, first raw_read offset 0,0.7 tc rgb "#cc0000"
tic(name, r, w) = (r > ymax || w > ymax) ? sprintf("%s\n(%.0f / %.0f)", name, r, w) : name
plot datafile using 2:xtic(tic(strcol(1), $2, $3)) title "seq read 1M" lc rgb "#3b75af", \
     '' using 3 title "seq write 1M" lc rgb "#ef8636", \
     '' using 4 title "degraded seq read" lc rgb "#7f7f7f", \
     '' using 0:2:(sprintf("%.0f", $2)) with labels offset -2.6,0.6 font ",8" notitle, \
     '' using 0:3:(sprintf("%.0f", $3)) with labels offset 0,0.6 font ",8" notitle, \
     '' using 0:4:(sprintf("%.0f", $4)) with labels offset 2.6,0.6 font ",8" notitle
