// LIST_PINS, LIST_LEASES, STAT and BREAK: what the admin tool asks.
#include "pin/protocol/limits.h"
#include "tools/control/path_resolver.h"
#include "tools/control/request_handlers.h"

namespace pinfs::control {

using protocol::MessageKind;

Dispatch RequestHandlers::list(std::uint64_t id, MessageKind kind) {
  std::string json;
  switch (kind) {
    case MessageKind::list_pins:
      json = pins_json(manager_.pins().list());
      break;
    case MessageKind::list_leases:
      json = leases_json(manager_.leases());
      break;
    default: {
      auto stat = fs_.statfs();
      if (!stat.ok()) return now(reply_error(id, kind, stat.error()));
      json = stat_json(facts_(), manager_.stats(), *stat);
      break;
    }
  }
  if (json.size() > protocol::kMaxJsonBytes) {
    return now(reply_error(id, kind,
                           Error(E2BIG, "list", protocol::kind_name(static_cast<std::uint16_t>(kind)),
                                 "the listing has " + std::to_string(json.size()) +
                                     " bytes; a reply holds at most " +
                                     std::to_string(protocol::kMaxJsonBytes))));
  }
  return now(reply_ok(id, kind, protocol::JsonReply{std::move(json)}));
}

Dispatch RequestHandlers::break_leases(ClientSession& s, std::uint64_t id, const protocol::BreakRequest& r) {
  auto fail = [&](const Error& e) { return now(reply_error(id, MessageKind::break_leases, e)); };
  auto resolved = resolve_path(fs_, options_.mountpoint, r.path, s.peer, "break leases");
  if (!resolved.ok()) return fail(resolved.error());
  if (s.peer.uid != 0 && s.peer.uid != resolved->attr.uid) {
    return fail(Error(EPERM, "break leases", r.path,
                      "only root or the file's owner (uid " + std::to_string(resolved->attr.uid) +
                          ") may break its leases"));
  }
  if (r.range.length == 0) return fail(Error(EINVAL, "break leases", r.path, "the range is empty"));
  // A break is a layout change that changes nothing: the manager breaks the
  // leases over the range exactly as a punch would, waits for the holders
  // (or applies the policy), and the change then ends at once.
  fs::LayoutChange change;
  change.kind = fs::LayoutChangeKind::punch_hole;
  change.ino = resolved->attr.ino;
  change.offset = r.range.offset;
  change.length = r.range.length;
  change.caller = caller_of(s.peer);
  return Dispatch{std::nullopt, [this, id, change]() -> Reply {
    Status begun = manager_.begin_layout_change(change);
    if (begun.ok()) manager_.end_layout_change(change);
    return reply_status(id, MessageKind::break_leases, begun);
  }};
}

}  // namespace pinfs::control
