#include "tools/pinfs/table.h"

#include <algorithm>
#include <cassert>

namespace pinfs::tools {
namespace {

// Width on a terminal, near enough: code points, not bytes, so that a path
// with UTF-8 names does not push its column out of line.
std::size_t display_width(const std::string& text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

}  // namespace

Table::Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

void Table::add_row(std::vector<std::string> cells) {
  assert(cells.size() == columns_.size() && "Table::add_row: one cell per column");
  rows_.push_back(std::move(cells));
}

std::string Table::render(bool with_header) const {
  std::vector<std::size_t> widths;
  for (const Column& c : columns_) widths.push_back(with_header ? display_width(c.heading) : 0);
  for (const auto& row : rows_) {
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], display_width(row[i]));
  }
  std::string out;
  auto append_line = [&](const auto& cell_of) {
    std::string line;
    for (std::size_t i = 0; i < columns_.size(); ++i) {
      const std::string& cell = cell_of(i);
      const std::size_t pad = widths[i] - display_width(cell);
      if (i > 0) line += "  ";
      if (columns_[i].align == Align::right) line.append(pad, ' ');
      line += cell;
      if (columns_[i].align == Align::left) line.append(pad, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line;
    out += '\n';
  };
  if (with_header) append_line([&](std::size_t i) -> const std::string& { return columns_[i].heading; });
  for (const auto& row : rows_) append_line([&](std::size_t i) -> const std::string& { return row[i]; });
  return out;
}

}  // namespace pinfs::tools
