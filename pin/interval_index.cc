#include "pin/interval_index.h"

#include <algorithm>
#include <cassert>
#include <utility>
#include <vector>

namespace pinfs::pin {
namespace {

using Key = std::pair<std::uint64_t, std::uint64_t>;  // (start, id)

template <typename Node>
void update(Node* node) {
  node->max_end = node->end;
  if (node->left) node->max_end = std::max(node->max_end, node->left->max_end);
  if (node->right) node->max_end = std::max(node->max_end, node->right->max_end);
}

// Splits `tree` into keys < key (first) and keys >= key (second).
template <typename Node>
std::pair<std::unique_ptr<Node>, std::unique_ptr<Node>> split(std::unique_ptr<Node> tree,
                                                              const Key& key) {
  if (!tree) return {nullptr, nullptr};
  if (Key{tree->start, tree->id} < key) {
    auto [lower, upper] = split(std::move(tree->right), key);
    tree->right = std::move(lower);
    update(tree.get());
    return {std::move(tree), std::move(upper)};
  }
  auto [lower, upper] = split(std::move(tree->left), key);
  tree->left = std::move(upper);
  update(tree.get());
  return {std::move(lower), std::move(tree)};
}

// Joins two trees where every key of `lower` is below every key of `upper`.
template <typename Node>
std::unique_ptr<Node> merge(std::unique_ptr<Node> lower, std::unique_ptr<Node> upper) {
  if (!lower) return upper;
  if (!upper) return lower;
  if (lower->priority > upper->priority) {
    lower->right = merge(std::move(lower->right), std::move(upper));
    update(lower.get());
    return lower;
  }
  upper->left = merge(std::move(lower), std::move(upper->left));
  update(upper.get());
  return upper;
}

template <typename Node>
bool erase_from(std::unique_ptr<Node>& tree, const Key& key) {
  if (!tree) return false;
  Key here{tree->start, tree->id};
  if (here == key) {
    tree = merge(std::move(tree->left), std::move(tree->right));
    return true;
  }
  bool erased = key < here ? erase_from(tree->left, key) : erase_from(tree->right, key);
  if (erased) update(tree.get());
  return erased;
}

// Is `key` the smallest key of `tree`?
template <typename Node>
bool starts_with(const Node* tree, const Key& key) {
  if (tree == nullptr) return false;
  while (tree->left) tree = tree->left.get();
  return Key{tree->start, tree->id} == key;
}

}  // namespace

IntervalIndex::~IntervalIndex() {
  // Free iteratively: a recursive unique_ptr teardown is as deep as the tree,
  // which a treap bounds only in expectation.
  std::vector<std::unique_ptr<Node>> pending;
  if (root_) pending.push_back(std::move(root_));
  while (!pending.empty()) {
    std::unique_ptr<Node> node = std::move(pending.back());
    pending.pop_back();
    if (node->left) pending.push_back(std::move(node->left));
    if (node->right) pending.push_back(std::move(node->right));
  }
}

std::uint64_t IntervalIndex::next_priority() {
  // xorshift64*: fast, and deterministic so that runs reproduce.
  rng_state_ ^= rng_state_ >> 12;
  rng_state_ ^= rng_state_ << 25;
  rng_state_ ^= rng_state_ >> 27;
  return rng_state_ * 0x2545f4914f6cdd1dull;
}

void IntervalIndex::insert(std::uint64_t start, std::uint64_t end, std::uint64_t id) {
  assert(start < end && "IntervalIndex: an interval must not be empty");
  auto node = std::make_unique<Node>(Node{start, end, id, next_priority(), end, nullptr, nullptr});
  auto [lower, upper] = split(std::move(root_), Key{start, id});
  assert(!starts_with(upper.get(), Key{start, id}) && "IntervalIndex: (start, id) must be unique");
  root_ = merge(merge(std::move(lower), std::move(node)), std::move(upper));
  ++size_;
}

bool IntervalIndex::erase(std::uint64_t start, std::uint64_t id) {
  bool erased = erase_from(root_, Key{start, id});
  if (erased) --size_;
  return erased;
}

bool IntervalIndex::any_overlapping(std::uint64_t a, std::uint64_t b) const {
  bool found = false;
  // The first answer is enough; visit() costs O(log n) to find it.
  const Node* node = root_.get();
  while (!found && node != nullptr && node->max_end > a && a < b) {
    if (node->left && node->left->max_end > a) {
      node = node->left.get();
      continue;
    }
    if (node->start >= b) break;
    if (node->end > a) found = true;
    node = node->right.get();
  }
  return found;
}

}  // namespace pinfs::pin
