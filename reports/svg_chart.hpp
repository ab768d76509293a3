// Charts as inline SVG for the HTML report (internal to reports/): a line chart (sweeps, CDFs)
// and a horizontal bar chart (one figure across devices and results). No script, no external
// resource: each chart is one <svg> element the page embeds. Every string is escaped; a bar's
// label too long for its place is shortened, and each bar and line has its whole story in a
// <title> (the browser's tooltip).
//
// Measured and simulated figures look different everywhere: a simulated or modeled line is
// dashed, a simulated or modeled bar is a pale fill with a dashed outline.
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace xpb::svg {

// The colour of series or bar i (ColorBrewer's "Dark2" and "Set1" hues, readable on white).
const char* color(std::size_t i);

struct Series {
  std::string label;
  std::vector<std::pair<double, double>> points;  // (x, y), drawn in this order
  std::size_t color = 0;
  bool modeled = false;  // simulated or modeled: dashed
  bool step = false;     // a staircase (an empirical CDF), not straight segments
};

// A vertical line across the plot at x: a cache level's size, a deadline.
struct Marker {
  double x = 0;
  std::string label;
  bool widen = false;  // widen the axis to show it (a deadline); else drawn only when in range
};

enum class AxisFormat { number, bytes };

struct LineChart {
  std::string x_label, y_label;
  bool log_x = false;
  bool x_from_zero = false;  // a linear x axis that starts at 0 (times, to read ratios off it)
  AxisFormat x_format = AxisFormat::number;
  std::optional<double> y_min, y_max;  // fixed range (a CDF's 0..1); else from the data, 0 included
  std::vector<Series> series;
  std::vector<Marker> markers;
};

struct Bar {
  std::string label;  // left of the bar
  double value = 0;
  std::optional<double> lo, hi;  // a whisker: the 95% CI of the median
  std::size_t color = 0;
  bool modeled = false;
  std::string tooltip;  // the whole story of the bar (value, unit, spread, source)
};

struct BarChart {
  std::string unit;
  std::vector<Bar> bars;  // top to bottom; only positive values can be drawn on a log axis
};

// The <svg> element of a chart; an empty string when it has nothing to draw. A bar chart whose
// values are all above 0 and span more than a factor of 100 gets a logarithmic axis (J/token
// from 0.01 to 1,000; a whisker reaching 0 or below is cut at the axis).
std::string render(const LineChart& chart);
std::string render(const BarChart& chart);

// At most `n` points of an empirical CDF of `values` (x the value, y the fraction of values at
// or below it), taken at evenly spaced ranks so the curve keeps its shape with 100,000 samples.
std::vector<std::pair<double, double>> cdf_points(std::vector<double> values, std::size_t n);

}  // namespace xpb::svg
