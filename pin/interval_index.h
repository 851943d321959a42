// IntervalIndex: a set of half-open intervals [start, end), each tagged with
// an id, that answers "which intervals overlap [a, b)?".
//
// Why a treap with max-end augmentation: the pin registry and the lease
// manager ask this on every pin, lease and layout change, with up to
// hundreds of thousands of live pins. A std::map keyed by start finds the
// intervals that start inside [a, b) in O(log n), but not those that start
// before a and reach into it; without a bound on interval length that scan
// is O(n). Keeping in each node the largest end in its subtree lets a query
// skip every subtree that ends at or before a, so a query costs
// O(log n + k) expected for k answers and insert/erase O(log n) expected.
// A treap (random priorities) keeps the tree balanced in expectation with a
// short, checkable split/merge implementation; the priorities come from a
// fixed-seed generator, so a run is reproducible.
//
// Not thread-safe: the owner's mutex guards it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace pinfs::pin {

class IntervalIndex {
 public:
  IntervalIndex() = default;
  IntervalIndex(IntervalIndex&&) noexcept = default;
  IntervalIndex& operator=(IntervalIndex&&) noexcept = default;
  IntervalIndex(const IntervalIndex&) = delete;
  IntervalIndex& operator=(const IntervalIndex&) = delete;
  ~IntervalIndex();

  // Adds [start, end) under id. Requires start < end and (start, id) not
  // already present (an assertion: the callers' ids are unique).
  void insert(std::uint64_t start, std::uint64_t end, std::uint64_t id);
  // Removes the interval added as (start, id); false when there is none.
  bool erase(std::uint64_t start, std::uint64_t id);

  // Calls fn(start, end, id) for each interval with start < b and end > a,
  // in order of start.
  template <typename Fn>
  void for_each_overlapping(std::uint64_t a, std::uint64_t b, Fn&& fn) const {
    if (a < b) visit(root_.get(), a, b, fn);
  }
  bool any_overlapping(std::uint64_t a, std::uint64_t b) const;

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  struct Node {
    std::uint64_t start;
    std::uint64_t end;
    std::uint64_t id;
    std::uint64_t priority;
    std::uint64_t max_end;  // largest end in this subtree
    std::unique_ptr<Node> left;
    std::unique_ptr<Node> right;
  };

  template <typename Fn>
  static void visit(const Node* node, std::uint64_t a, std::uint64_t b, Fn& fn) {
    while (node != nullptr && node->max_end > a) {
      visit(node->left.get(), a, b, fn);
      if (node->start >= b) return;  // everything to the right starts later still
      if (node->end > a) fn(node->start, node->end, node->id);
      node = node->right.get();
    }
  }

  std::uint64_t next_priority();

  std::unique_ptr<Node> root_;
  std::size_t size_ = 0;
  std::uint64_t rng_state_ = 0x9e3779b97f4a7c15ull;
};

}  // namespace pinfs::pin
