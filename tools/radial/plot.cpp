#include "tools/radial/plot.h"

#include <cairo.h>
#include <fontconfig/fontconfig.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>

#include "engine/error.h"

namespace radial::tools {
namespace {

struct Rgb {
  double r, g, b;
};
constexpr Rgb kPalette[] = {{0.12, 0.47, 0.71}, {1.00, 0.50, 0.05}, {0.17, 0.63, 0.17},
                            {0.84, 0.15, 0.16}, {0.58, 0.40, 0.74}, {0.55, 0.34, 0.29}};
Rgb color(size_t i) { return kPalette[i % (sizeof kPalette / sizeof kPalette[0])]; }

using Surface = std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)>;
using Context = std::unique_ptr<cairo_t, decltype(&cairo_destroy)>;

// Round tick positions covering [lo, hi] (steps of 1, 2 or 5 times 10^k).
std::vector<double> ticks(double lo, double hi, int target = 6) {
  const double span = std::max(hi - lo, 1e-12);
  const double raw = span / target, mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * mag) {
      step = m * mag;
      break;
    }
  std::vector<double> t;
  for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step)
    t.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
  return t;
}

std::string tick_label(double v, bool percent) {
  char buf[32];
  if (percent) {
    std::snprintf(buf, sizeof buf, "%g%%", std::round(v * 1000) / 10);
  } else {
    std::snprintf(buf, sizeof buf, "%g", std::round(v * 1e6) / 1e6);
  }
  return buf;
}

class Canvas {
 public:
  Canvas(int w, int h)
      : surface_(cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h), &cairo_surface_destroy),
        cr_(cairo_create(surface_.get()), &cairo_destroy) {
    cairo_set_source_rgb(cr(), 1, 1, 1);
    cairo_paint(cr());
    cairo_select_font_face(cr(), "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  }
  cairo_t* cr() { return cr_.get(); }

  void rgb(Rgb c, double alpha = 1) { cairo_set_source_rgba(cr(), c.r, c.g, c.b, alpha); }
  void gray(double v) { cairo_set_source_rgb(cr(), v, v, v); }
  void line(double x0, double y0, double x1, double y1, double width = 1) {
    cairo_set_line_width(cr(), width);
    cairo_move_to(cr(), x0, y0);
    cairo_line_to(cr(), x1, y1);
    cairo_stroke(cr());
  }
  // Text anchored at (x, y): ax 0 left, 0.5 centre, 1 right; ay likewise
  // (0 top, 1 baseline-ish bottom). `angle` in radians (text rotation).
  void text(const std::string& s, double x, double y, double size, double ax, double ay,
            double angle = 0, bool bold = false) {
    cairo_select_font_face(cr(), "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr(), size);
    cairo_text_extents_t e;
    cairo_text_extents(cr(), s.c_str(), &e);
    cairo_save(cr());
    cairo_translate(cr(), x, y);
    cairo_rotate(cr(), angle);
    cairo_move_to(cr(), -ax * e.x_advance, -ay * size * 0.75 + size * 0.75);
    cairo_show_text(cr(), s.c_str());
    cairo_restore(cr());
  }
  void save(const std::string& path) {
    cairo_surface_flush(surface_.get());
    const cairo_status_t st = cairo_surface_write_to_png(surface_.get(), path.c_str());
    require(st == CAIRO_STATUS_SUCCESS, ErrorCode::kInvalidArgument,
            "cannot write " + path + ": " + cairo_status_to_string(st));
  }

 private:
  Surface surface_;
  Context cr_;
};

// A plot area with linear axes.
struct Frame {
  double left, top, width, height;  // pixels
  double x0, x1, y0, y1;            // data range
  double px(double x) const { return left + (x - x0) / (x1 - x0) * width; }
  double py(double y) const { return top + height - (y - y0) / (y1 - y0) * height; }
};

// Draws the frame, grid, y ticks (and x ticks unless categorical), labels.
void draw_axes(Canvas& c, const Frame& f, const std::string& x_label, const std::string& y_label,
               bool x_ticks, bool x_percent, bool y_percent) {
  for (double t : ticks(f.y0, f.y1)) {
    if (t < f.y0 - 1e-12 || t > f.y1 + 1e-12) continue;
    c.gray(0.9);
    c.line(f.left, f.py(t), f.left + f.width, f.py(t));
    c.gray(0.2);
    c.text(tick_label(t, y_percent), f.left - 6, f.py(t) - 5, 11, 1, 0);
  }
  if (x_ticks)
    for (double t : ticks(f.x0, f.x1)) {
      if (t < f.x0 - 1e-12 || t > f.x1 + 1e-12) continue;
      c.gray(0.9);
      c.line(f.px(t), f.top, f.px(t), f.top + f.height);
      c.gray(0.2);
      c.text(tick_label(t, x_percent), f.px(t), f.top + f.height + 6, 11, 0.5, 0);
    }
  c.gray(0.2);
  cairo_set_line_width(c.cr(), 1);
  cairo_rectangle(c.cr(), f.left, f.top, f.width, f.height);
  cairo_stroke(c.cr());
  c.text(x_label, f.left + f.width / 2, f.top + f.height + 26, 13, 0.5, 0);
  c.text(y_label, f.left - 56, f.top + f.height / 2, 13, 0.5, 0, -M_PI / 2);
}

void legend(Canvas& c, double x, double y, const std::vector<std::string>& names,
            const std::vector<bool>& dashed, bool boxes) {
  for (size_t i = 0; i < names.size(); ++i) {
    const double yy = y + 18 * i;
    c.rgb(color(i), boxes ? 0.6 : 1);
    if (boxes) {
      cairo_rectangle(c.cr(), x, yy - 5, 14, 10);
      cairo_fill(c.cr());
    } else {
      if (dashed[i]) {
        const double d[] = {5, 3};
        cairo_set_dash(c.cr(), d, 2, 0);
      }
      c.line(x, yy, x + 18, yy, 2);
      cairo_set_dash(c.cr(), nullptr, 0, 0);
    }
    c.gray(0.1);
    c.text(names[i], x + 24, yy - 6, 12, 0, 0);
  }
}

// Frees cairo's and fontconfig's process-wide caches once no cairo object is
// alive, so that leak checkers (the ASan test stage) see a clean exit. The
// next chart initialises them again.
void release_font_caches() {
  cairo_debug_reset_static_data();
  FcFini();
}

void draw_boxes(const BoxChart& chart, const std::string& png_path) {
  require(!chart.categories.empty() && !chart.series.empty(), ErrorCode::kInvalidArgument,
          "plot: no data to draw");
  double hi = 0;
  for (const auto& s : chart.series) {
    require(s.boxes.size() == chart.categories.size(), ErrorCode::kInvalidArgument,
            "plot: series " + s.name + " has a different number of boxes");
    for (const Box& b : s.boxes) hi = std::max(hi, b.high);
  }
  hi = hi > 0 ? hi * 1.08 : 1;
  const int W = 900, H = 540;
  Canvas c(W, H);
  Frame f{90, 70, W - 120.0, H - 140.0, 0, static_cast<double>(chart.categories.size()), 0, hi};
  c.gray(0.1);
  c.text(chart.title, W / 2.0, 14, 16, 0.5, 0, 0, true);
  c.gray(0.35);
  c.text(chart.note, W / 2.0, 38, 11, 0.5, 0);
  draw_axes(c, f, chart.x_label, chart.y_label, false, false, false);
  const size_t ns = chart.series.size();
  const double group = f.width / chart.categories.size();
  const double bw = group * 0.7 / ns;
  for (size_t k = 0; k < chart.categories.size(); ++k) {
    const double gx = f.left + group * k + group * 0.15;
    c.gray(0.2);
    c.text(chart.categories[k], f.left + group * (k + 0.5), f.top + f.height + 6, 12, 0.5, 0);
    for (size_t s = 0; s < ns; ++s) {
      const Box& b = chart.series[s].boxes[k];
      const double x = gx + bw * s, mid = x + bw / 2;
      c.rgb(color(s));
      c.line(mid, f.py(b.low), mid, f.py(b.q1));
      c.line(mid, f.py(b.q3), mid, f.py(b.high));
      c.line(mid - bw / 4, f.py(b.low), mid + bw / 4, f.py(b.low));
      c.line(mid - bw / 4, f.py(b.high), mid + bw / 4, f.py(b.high));
      c.rgb(color(s), 0.45);
      cairo_rectangle(c.cr(), x + bw * 0.1, f.py(b.q3), bw * 0.8, f.py(b.q1) - f.py(b.q3));
      cairo_fill_preserve(c.cr());
      c.rgb(color(s));
      cairo_set_line_width(c.cr(), 1);
      cairo_stroke(c.cr());
      c.gray(0.05);
      c.line(x + bw * 0.1, f.py(b.median), x + bw * 0.9, f.py(b.median), 2);
    }
  }
  std::vector<std::string> names;
  for (const auto& s : chart.series) names.push_back(s.name);
  legend(c, f.left + f.width - 120, f.top + 16, names, std::vector<bool>(names.size(), false),
         true);
  c.save(png_path);
}

void draw_lines(const std::string& title, const std::vector<LinePanel>& panels,
                const std::string& png_path) {
  require(!panels.empty(), ErrorCode::kInvalidArgument, "plot: no data to draw");
  const int PW = 520, H = 560;
  const int W = PW * static_cast<int>(panels.size());
  Canvas c(W, H);
  c.gray(0.1);
  c.text(title, W / 2.0, 12, 16, 0.5, 0, 0, true);
  for (size_t k = 0; k < panels.size(); ++k) {
    const LinePanel& p = panels[k];
    double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
    for (const auto& s : p.series) {
      require(s.x.size() == s.y.size(), ErrorCode::kInvalidArgument,
              "plot: x and y differ in length");
      for (size_t i = 0; i < s.x.size(); ++i) {
        x0 = std::min(x0, s.x[i]);
        x1 = std::max(x1, s.x[i]);
        y0 = std::min(y0, s.y[i]);
        y1 = std::max(y1, s.y[i]);
      }
    }
    require(std::isfinite(x0) && std::isfinite(y0), ErrorCode::kInvalidArgument,
            "plot: no data to draw");
    const double xm = std::max((x1 - x0) * 0.08, 1e-3), ym = std::max((y1 - y0) * 0.1, 1e-3);
    Frame f{PW * k + 90.0, 70, PW - 120.0, H - 200.0, x0 - xm, x1 + xm, y0 - ym, y1 + ym};
    c.gray(0.15);
    c.text(p.title, f.left + f.width / 2, 42, 13, 0.5, 0, 0, true);
    draw_axes(c, f, p.x_label, p.y_label, true, p.x_percent, p.y_percent);
    std::vector<std::string> names;
    std::vector<bool> dashed;
    for (size_t s = 0; s < p.series.size(); ++s) {
      const LineSeries& ls = p.series[s];
      names.push_back(ls.name);
      dashed.push_back(ls.dashed);
      c.rgb(color(s));
      if (ls.dashed) {
        const double d[] = {6, 4};
        cairo_set_dash(c.cr(), d, 2, 0);
      }
      cairo_set_line_width(c.cr(), 2);
      for (size_t i = 0; i < ls.x.size(); ++i)
        (i ? cairo_line_to : cairo_move_to)(c.cr(), f.px(ls.x[i]), f.py(ls.y[i]));
      cairo_stroke(c.cr());
      cairo_set_dash(c.cr(), nullptr, 0, 0);
      for (size_t i = 0; i < ls.x.size(); ++i) {
        c.rgb(color(s));
        cairo_arc(c.cr(), f.px(ls.x[i]), f.py(ls.y[i]), 3.5, 0, 2 * M_PI);
        cairo_fill(c.cr());
        if (i < ls.labels.size() && !ls.labels[i].empty()) {
          c.gray(0.3);
          c.text(ls.labels[i], f.px(ls.x[i]) + 5, f.py(ls.y[i]) + (s % 2 ? 4 : -16), 9, 0, 0);
        }
      }
    }
    legend(c, f.left + 12, f.top + f.height + 56, names, dashed, false);
  }
  c.save(png_path);
}

}  // namespace

void plot_boxes(const BoxChart& chart, const std::string& png_path) {
  try {
    draw_boxes(chart, png_path);
  } catch (...) {
    release_font_caches();
    throw;
  }
  release_font_caches();
}

void plot_lines(const std::string& title, const std::vector<LinePanel>& panels,
                const std::string& png_path) {
  try {
    draw_lines(title, panels, png_path);
  } catch (...) {
    release_font_caches();
    throw;
  }
  release_font_caches();
}

}  // namespace radial::tools
