// Table: the aligned columns every listing of `pinfs` prints for people
// (lslocks and `rdma resource show` are the models): a header line, one
// line per row, columns two spaces apart, no trailing blanks.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace pinfs::tools {

class Table {
 public:
  enum class Align { left, right };
  struct Column {
    std::string heading;
    Align align = Align::left;  // numbers right, text left
  };

  explicit Table(std::vector<Column> columns);

  // One cell per column, in order.
  void add_row(std::vector<std::string> cells);
  std::size_t rows() const { return rows_.size(); }

  // The header (unless with_header is false: a list of facts) and the
  // rows, each line ending in '\n'.
  std::string render(bool with_header = true) const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace pinfs::tools
