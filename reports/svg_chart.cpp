#include "svg_chart.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "report_format.hpp"
#include "xpubench/parse.hpp"

namespace xpb::svg {
namespace {

using report_format::xml;

constexpr double kWidth = 900;
constexpr double kFontPx = 11;
constexpr double kCharPx = 6.6;  // a wide-ish average character of the 11 px sans-serif the page uses

// A value's place along one axis, linear or logarithmic, and the ticks worth labelling.
struct Axis {
  double lo = 0, hi = 1;
  bool log = false;
  double px0 = 0, px1 = 1;  // where lo and hi land (px1 < px0 for a y axis)

  double px(double v) const {
    double t = log ? (std::log(std::max(v, lo)) - std::log(lo)) / (std::log(hi) - std::log(lo)) : (v - lo) / (hi - lo);
    if (!std::isfinite(t)) t = 0;  // a span past the largest double: drawn at the axis' start
    t = std::clamp(t, -0.02, 1.02);
    return px0 + t * (px1 - px0);
  }

  // Linear: steps of 1, 2 or 5 times a power of ten, 4 to 10 of them. Log: powers of ten, or
  // of two for sizes in bytes, thinned to at most 10.
  std::vector<double> ticks(AxisFormat format) const {
    std::vector<double> out;
    if (log) {
      const double base = format == AxisFormat::bytes ? 2 : 10;
      const double first = std::ceil(std::log(lo) / std::log(base) - 1e-9);
      const double last = std::floor(std::log(hi) / std::log(base) + 1e-9);
      const double stride = std::max(1.0, std::ceil((last - first + 1) / 10));
      for (double e = first; e <= last; e += stride) out.push_back(std::pow(base, e));
      return out;
    }
    const double raw = (hi - lo) / 6;
    const double magnitude = std::pow(10, std::floor(std::log10(raw)));
    double step = magnitude;
    for (double m : {1.0, 2.0, 5.0, 10.0})
      if (m * magnitude >= raw) {
        step = m * magnitude;
        break;
      }
    // Counted, not accumulated: a step below the spacing of doubles this far from zero would
    // never get past lo.
    const double first = std::ceil(lo / step) * step;
    for (int i = 0; i <= 12; ++i) {
      const double v = first + i * step;
      if (!(v <= hi + step * 1e-9)) break;
      out.push_back(std::abs(v) < step * 1e-9 ? 0 : v);
    }
    return out;
  }
};

std::string tick_text(double v, AxisFormat format) {
  if (format == AxisFormat::bytes && v >= 1 && v < 1.8e19) {  // within a uint64
    auto text = format_bytes(static_cast<std::uint64_t>(v + 0.5));
    std::erase(text, ' ');
    return text;
  }
  return fmt::format("{:.6g}", v);  // ticks are round numbers: 150, 0.25, 1e+06
}

// A linear range from the data with zero included (a bar or a rate read against zero), widened
// a little above; a logarithmic one out to the powers of ten (or two) around the data.
Axis data_axis(double lo, double hi, bool log, bool include_zero, AxisFormat format) {
  Axis a;
  a.log = log;
  if (log) {
    const double base = format == AxisFormat::bytes ? 2 : 10;
    a.lo = std::pow(base, std::floor(std::log(lo) / std::log(base) + 1e-9));
    a.hi = std::min(std::pow(base, std::ceil(std::log(hi) / std::log(base) - 1e-9)), std::numeric_limits<double>::max());
    if (a.hi <= a.lo) a.hi = a.lo * base;
    return a;
  }
  if (include_zero) {
    lo = std::min(lo, 0.0);
    hi = std::max(hi, 0.0);
  }
  if (hi <= lo) hi = lo + (lo == 0 ? 1 : std::abs(lo) * 0.1);
  a.lo = lo;
  a.hi = hi + (hi - lo) * 0.05;
  return a;
}

std::string shortened(const std::string& s, std::size_t chars) {
  if (s.size() <= chars) return s;
  std::size_t cut = chars - 1;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 character
  return s.substr(0, cut) + "…";
}

std::string text(double x, double y, const std::string& s, const char* anchor, const char* extra = "") {
  return fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"{}\"{}>{}</text>", x, y, anchor, extra, xml(s));
}

std::string open_svg(double height, const std::string& label) {
  return fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"{0:.0f}\" height=\"{1:.0f}\" "
                     "viewBox=\"0 0 {0:.0f} {1:.0f}\" role=\"img\" aria-label=\"{2}\" font-size=\"{3:.0f}\">",
                     kWidth, height, xml(label), kFontPx);
}

}  // namespace

const char* color(std::size_t i) {
  static constexpr const char* kColors[] = {"#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e",
                                            "#e6ab02", "#a6761d", "#377eb8", "#e41a1c", "#666666"};
  return kColors[i % std::size(kColors)];
}

std::vector<std::pair<double, double>> cdf_points(std::vector<double> values, std::size_t n) {
  std::erase_if(values, [](double v) { return !std::isfinite(v); });
  std::sort(values.begin(), values.end());
  std::vector<std::pair<double, double>> out;
  if (values.empty() || n == 0) return out;
  const std::size_t total = values.size();
  const std::size_t taken = std::min(n, total);
  for (std::size_t i = 0; i < taken; ++i) {
    // Ranks spread evenly from the smallest to the largest value, both kept.
    const std::size_t rank = taken == 1 ? total - 1 : i * (total - 1) / (taken - 1);
    out.emplace_back(values[rank], static_cast<double>(rank + 1) / static_cast<double>(total));
  }
  return out;
}

std::string render(const LineChart& chart) {
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  for (const auto& s : chart.series)
    for (const auto& [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y) || (chart.log_x && x <= 0)) continue;
      xlo = std::min(xlo, x), xhi = std::max(xhi, x), ylo = std::min(ylo, y), yhi = std::max(yhi, y);
    }
  if (!std::isfinite(xlo)) return "";
  for (const auto& m : chart.markers)
    if (m.widen && std::isfinite(m.x) && (!chart.log_x || m.x > 0)) xlo = std::min(xlo, m.x), xhi = std::max(xhi, m.x);
  constexpr double kHeight = 340, kLeft = 70, kRight = 20, kTop = 24, kBottom = 44;
  Axis x = data_axis(xlo, xhi, chart.log_x, chart.x_from_zero && !chart.log_x, chart.x_format);
  if (!chart.log_x && xlo == xhi) {  // one x value: a band around it (and 0, for a chart from zero)
    const double pad = std::max(std::abs(xlo) * 0.1, 1.0);
    x = data_axis(xlo - pad, xhi + pad, false, chart.x_from_zero, chart.x_format);
  }
  Axis y = data_axis(chart.y_min.value_or(ylo), chart.y_max.value_or(yhi), false, !chart.y_min, AxisFormat::number);
  if (chart.y_max && *chart.y_max > y.lo) y.hi = *chart.y_max;
  x.px0 = kLeft, x.px1 = kWidth - kRight;
  y.px0 = kHeight - kBottom, y.px1 = kTop;

  std::string out = open_svg(kHeight, chart.y_label + " against " + chart.x_label);
  out += "<g class=\"grid\">";
  for (double t : y.ticks(AxisFormat::number))
    out += fmt::format("<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\"/>", x.px0, x.px1, y.px(t), y.px(t));
  for (double t : x.ticks(chart.x_format))
    out += fmt::format("<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\"/>", x.px(t), x.px(t), y.px0, y.px1);
  out += "</g><g class=\"axis\">";
  for (double t : y.ticks(AxisFormat::number)) out += text(x.px0 - 4, y.px(t) + 4, tick_text(t, AxisFormat::number), "end");
  for (double t : x.ticks(chart.x_format)) out += text(x.px(t), y.px0 + 15, tick_text(t, chart.x_format), "middle");
  out += text((x.px0 + x.px1) / 2, kHeight - 8, chart.x_label, "middle");
  out += text(14, (y.px0 + y.px1) / 2, chart.y_label, "middle",
              fmt::format(" transform=\"rotate(-90 14 {:.1f})\"", (y.px0 + y.px1) / 2).c_str());
  out += "</g>";
  for (const auto& m : chart.markers) {
    if (!std::isfinite(m.x) || m.x < x.lo || m.x > x.hi) continue;
    const double px = x.px(m.x);
    out += fmt::format("<g class=\"marker\"><line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1:.1f}\" y2=\"{2:.1f}\"/>", px, y.px0,
                       y.px1 - 6);
    out += text(px + 3, y.px1 - 8, m.label, "start") + "</g>";
  }
  for (const auto& s : chart.series) {
    std::string points;
    double last_y = NAN;
    for (const auto& [px_x, px_y] : s.points) {
      if (!std::isfinite(px_x) || !std::isfinite(px_y) || (chart.log_x && px_x <= 0)) continue;
      if (s.step && std::isfinite(last_y)) points += fmt::format("{:.1f},{:.1f} ", x.px(px_x), y.px(last_y));
      points += fmt::format("{:.1f},{:.1f} ", x.px(px_x), y.px(px_y));
      last_y = px_y;
    }
    if (points.empty()) continue;
    points.pop_back();
    out += fmt::format("<g class=\"series{}\"><title>{}</title><polyline points=\"{}\" stroke=\"{}\"/>",
                       s.modeled ? " modeled" : "", xml(s.label), points, color(s.color));
    if (!s.step && s.points.size() <= 64)  // a point of its own is visible even alone
      for (const auto& [px_x, px_y] : s.points)
        if (std::isfinite(px_x) && std::isfinite(px_y) && (!chart.log_x || px_x > 0))
          out += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2.5\" fill=\"{}\"/>", x.px(px_x), y.px(px_y),
                             s.modeled ? "#fff" : color(s.color));
    out += "</g>";
  }
  return out + "</svg>";
}

std::string render(const BarChart& chart) {
  // The axis from the values and their whiskers; a log one when the values (whiskers aside)
  // are all above 0 and span more than 100x.
  double lo = INFINITY, hi = -INFINITY, value_lo = INFINITY, value_hi = -INFINITY;
  for (const auto& b : chart.bars) {
    if (std::isfinite(b.value)) value_lo = std::min(value_lo, b.value), value_hi = std::max(value_hi, b.value);
    for (double v : {b.value, b.lo.value_or(b.value), b.hi.value_or(b.value)})
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  }
  if (!std::isfinite(lo)) return "";
  const bool log = value_lo > 0 && value_hi / value_lo > 100;
  const double positive_lo = log ? std::min(value_lo, lo > 0 ? lo : value_lo) : lo;
  constexpr double kRow = 16, kLabel = 380, kRight = 70, kTop = 8, kBottom = 34;
  const double height = kTop + kRow * static_cast<double>(chart.bars.size()) + kBottom;
  Axis x = data_axis(log ? positive_lo : lo, hi, log, true, AxisFormat::number);
  x.px0 = kLabel, x.px1 = kWidth - kRight;
  const double base = x.px(log ? x.lo : 0.0);

  std::string out = open_svg(height, chart.unit);
  out += "<g class=\"grid\">";
  const auto ticks = x.ticks(AxisFormat::number);
  for (double t : ticks)
    out += fmt::format("<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1:.1f}\" y2=\"{2:.1f}\"/>", x.px(t), kTop,
                       height - kBottom);
  out += "</g><g class=\"axis\">";
  for (double t : ticks) out += text(x.px(t), height - kBottom + 14, tick_text(t, AxisFormat::number), "middle");
  out += text((x.px0 + x.px1) / 2, height - 6, chart.unit + (log ? " (log scale)" : ""), "middle") + "</g>";
  const auto label_chars = static_cast<std::size_t>((kLabel - 8) / kCharPx);
  for (std::size_t i = 0; i < chart.bars.size(); ++i) {
    const Bar& b = chart.bars[i];
    const double top = kTop + kRow * static_cast<double>(i) + 2, mid = top + (kRow - 4) / 2;
    out += fmt::format("<g class=\"bar{}\"><title>{}</title>", b.modeled ? " modeled" : "", xml(b.tooltip));
    out += text(kLabel - 6, mid + 4, shortened(b.label, label_chars), "end");
    if (std::isfinite(b.value)) {  // (on a log axis every value is above 0)
      const double end = x.px(b.value);
      out += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.0f}\" fill=\"{}\" stroke=\"{}\"/>",
                         std::min(base, end), top, std::abs(end - base), kRow - 4, color(b.color), color(b.color));
      if (b.lo && b.hi && std::isfinite(*b.lo) && std::isfinite(*b.hi) && (!log || *b.hi > 0))
        out += fmt::format("<path class=\"ci\" d=\"M{0:.1f} {2:.1f}v{3:.0f}M{0:.1f} {4:.1f}H{1:.1f}M{1:.1f} {2:.1f}v{3:.0f}\"/>",
                           x.px(log ? std::max(*b.lo, x.lo) : *b.lo), x.px(*b.hi), top + 1, kRow - 6, mid);
      out += text(std::max(end, b.hi && std::isfinite(*b.hi) ? x.px(*b.hi) : end) + 4, mid + 4,
                  report_format::number(b.value), "start");
    } else {
      out += text(base + 4, mid + 4, "no value", "start");
    }
    out += "</g>";
  }
  return out + "</svg>";
}

}  // namespace xpb::svg
