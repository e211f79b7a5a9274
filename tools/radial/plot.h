// PNG charts for the router tools, drawn with cairo: box plots (the
// residual-ratio profile) and line plots (quality against compute).
#pragma once

#include <string>
#include <vector>

namespace radial::tools {

struct Box {
  double low = 0, q1 = 0, median = 0, q3 = 0, high = 0;  // whisker, box, line, box, whisker
};

struct BoxSeries {
  std::string name;
  std::vector<Box> boxes;  // one per category
};

struct BoxChart {
  std::string title, x_label, y_label, note;  // note: a line under the title
  std::vector<std::string> categories;        // x axis, one group of boxes each
  std::vector<BoxSeries> series;              // drawn side by side within a group
};

struct LineSeries {
  std::string name;
  std::vector<double> x, y;
  std::vector<std::string> labels;  // optional, one per point (e.g. thresholds)
  bool dashed = false;
};

struct LinePanel {
  std::string title, x_label, y_label;
  std::vector<LineSeries> series;
  bool x_percent = false, y_percent = false;  // tick labels as percentages of 1
};

// Writes a PNG; throws radial::Error (kInvalidArgument) when the chart has
// no data or the file cannot be written.
void plot_boxes(const BoxChart& chart, const std::string& png_path);
// Panels side by side, under one title.
void plot_lines(const std::string& title, const std::vector<LinePanel>& panels,
                const std::string& png_path);

}  // namespace radial::tools
