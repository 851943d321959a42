#include "tools/control/control_server.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pin/protocol/message_codec.h"
#include "tools/control/session_event_sink.h"
#include "tools/control/socket_listener.h"

namespace pinfs::control {

using protocol::MessageKind;

namespace {

// Submission queue entries: one receive and one send per client, a pidfd
// poll, and a few of the server's own; the loop flushes early past it.
constexpr unsigned kRingEntries = 256;

}  // namespace

Result<std::unique_ptr<ControlServer>> ControlServer::create(fs::FileSystem& fs,
                                                             lease::LeaseManager& manager,
                                                             ControlServerOptions options) {
  std::unique_ptr<ControlServer> server(new ControlServer(fs, manager, std::move(options)));
  PINFS_ASSIGN_OR_RETURN(server->listen_fd_, listen_on(server->options_.socket_path, server->options_.map_group));
  PINFS_ASSIGN_OR_RETURN(server->mailbox_, LoopMailbox::create());
  return server;
}

ControlServer::ControlServer(fs::FileSystem& fs, lease::LeaseManager& manager, ControlServerOptions options)
    : fs_(fs),
      manager_(manager),
      options_(std::move(options)),
      handlers_(fs, manager, options_, probes_, [this] { return facts(); }) {}

ControlServer::~ControlServer() {
  stop();
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    ::unlink(options_.socket_path.c_str());
  }
}

Status ControlServer::start() {
  // The ring is made here, after any daemonizing fork: a forked child does
  // not share its parent's io_uring.
  PINFS_ASSIGN_OR_RETURN(loop_, UringLoop::create(kRingEntries));
  workers_ = std::make_unique<WorkerPool>();
  arm_accept();
  arm_mailbox();
  started_ = true;
  // Pins restored from the media after a restart wait for their owners like
  // any orphan: look at once, then every kReclaimInterval while some wait.
  if (manager_.pins().stats().orphaned_pins > 0) mailbox_->post([this] { reclaim(); });
  thread_ = std::thread([this] { run(); });
  spdlog::info("control socket {} (map group: {})", options_.socket_path,
               options_.map_group ? options_.map_group_name : std::string("none, root only"));
  return ok_status();
}

void ControlServer::stop() {
  if (!started_) return;
  started_ = false;
  mailbox_->post([this] {
    stopping_ = true;
    for (auto& [id, session] : std::unordered_map(sessions_)) {
      close_session(session, "the daemon is stopping", false);
    }
    ::shutdown(listen_fd_, SHUT_RDWR);
    loop_->cancel_all();
  });
  thread_.join();
  mailbox_->close();
  workers_.reset();  // finishes any job still waiting; its reply is dropped
  for (auto& [client, watch] : watches_) ::close(watch.pidfd);
  watches_.clear();
  loop_.reset();
}

void ControlServer::run() {
  while (!(stopping_ && loop_->pending() == 0)) {
    if (Status ran = loop_->run_once(); !ran.ok()) {
      spdlog::error("control server: {}; the control socket stops serving", ran.error().message());
      return;
    }
  }
}

DaemonFacts ControlServer::facts() const {
  DaemonFacts f;
  f.version = options_.daemon_version;
  f.mountpoint = options_.mountpoint;
  f.socket = options_.socket_path;
  f.lease_break_ms = manager_.options().lease_break_ms;
  f.break_policy = manager_.options().break_policy;
  f.map_group = options_.map_group ? options_.map_group_name : std::string();
  f.map_alignment_bytes = handlers_.map_alignment();
  f.sessions = session_count_;
  return f;
}

// --- Mailbox ---------------------------------------------------------------

void ControlServer::arm_mailbox() {
  // A poll, not a read: the eventfd is non-blocking, and take() reads it.
  loop_->poll_readable(mailbox_->event_fd(), [this](int result) {
    for (auto& work : mailbox_->take()) work();
    if (result != -ECANCELED && !stopping_) arm_mailbox();
  });
}

// --- Accepting -------------------------------------------------------------

void ControlServer::arm_accept() {
  loop_->accept(listen_fd_, [this](int result) { on_accept(result); });
}

void ControlServer::on_accept(int result) {
  if (stopping_) {
    if (result >= 0) ::close(result);
    return;
  }
  arm_accept();
  if (result < 0) {
    spdlog::warn("control socket: accept: {}", Error::strerror_name(-result));
    return;
  }
  const int fd = result;
  auto peer = read_peer_credentials(fd);
  if (!peer.ok()) {
    spdlog::warn("control socket: {}; connection closed", peer.error().message());
    ::close(fd);
    return;
  }
  const pin::ClientId id = next_client_id_++;
  const int pidfd = peer->pidfd;
  auto session = std::make_shared<ClientSession>(id, fd, std::move(*peer));
  if (sessions_.size() >= kMaxClients) {
    spdlog::warn("{}: refused, {} clients are connected already", session->describe(), kMaxClients);
    if (pidfd >= 0) ::close(pidfd);
    return;  // the session's destructor closes the socket
  }
  sessions_.emplace(id, session);
  session_count_ = sessions_.size();
  spdlog::debug("{} connected", session->describe());
  if (pidfd >= 0) {
    watch_process(id, pidfd);
  } else {
    spdlog::warn("{}: no pidfd for its process (already gone?); its pins will be reclaimed by "
                 "/proc start time", session->describe());
  }
  arm_receive(session);
}

// --- Receiving -------------------------------------------------------------

void ControlServer::arm_receive(const std::shared_ptr<ClientSession>& session) {
  if (session->receiving || session->state == ClientSession::State::closing) return;
  if (session->assembler.buffered_bytes() >= kMaxBufferedRequestBytes) return;  // resumed by serve_frames
  session->receiving = true;
  loop_->receive(session->socket_fd, session->receive_buffer,
                 [this, session](int result) { on_receive(session, result); });
}

void ControlServer::on_receive(const std::shared_ptr<ClientSession>& session, int result) {
  session->receiving = false;
  if (session->state == ClientSession::State::closing) return;
  if (result == 0) {
    close_session(session, "closed its connection", false);
    return;
  }
  if (result < 0) {
    close_session(session, "receive failed: " + Error::strerror_name(-result), false);
    return;
  }
  session->assembler.append(std::span(session->receive_buffer).first(static_cast<std::size_t>(result)));
  serve_frames(session);
}

void ControlServer::serve_frames(const std::shared_ptr<ClientSession>& session) {
  // One request at a time per client, in order: the next is read only once
  // the previous one (possibly on a worker) has its reply queued.
  while (!session->busy && session->state != ClientSession::State::closing) {
    auto next = session->assembler.next();
    if (!next.ok()) {
      close_session(session, "sent a malformed frame: " + next.error().message(), true);
      return;
    }
    if (!next->has_value()) break;
    const protocol::Frame frame = std::move(**next);
    if (session->state == ClientSession::State::awaiting_hello) {
      on_hello(session, frame);
    } else {
      dispatch(session, frame);
    }
  }
  arm_receive(session);
}

void ControlServer::on_hello(const std::shared_ptr<ClientSession>& session, const protocol::Frame& frame) {
  if (frame.kind != static_cast<std::uint16_t>(MessageKind::hello)) {
    close_session(session, "sent " + protocol::kind_name(frame.kind) + " before HELLO (out of order)", true);
    return;
  }
  auto hello = protocol::decode_request<protocol::Hello>(frame);
  if (!hello.ok()) {
    close_session(session, "sent a malformed HELLO: " + hello.error().message(), true);
    return;
  }
  if (hello->max_version < protocol::kMinProtocolVersion || hello->min_version > protocol::kProtocolVersion) {
    Error refused(EPROTONOSUPPORT, "connect", options_.socket_path,
                  "the client speaks protocol versions " + std::to_string(hello->min_version) + " to " +
                      std::to_string(hello->max_version) + ", this pinfsd " +
                      std::to_string(protocol::kMinProtocolVersion) + " to " +
                      std::to_string(protocol::kProtocolVersion));
    session->close_after_send = refused.message();
    queue_send(session, reply_error(frame.request_id, MessageKind::hello, refused));
    return;
  }
  auto sink = std::make_shared<SessionEventSink>(
      session->id, mailbox_,
      [this](pin::ClientId client, std::vector<std::byte> bytes) { deliver_event(client, std::move(bytes)); });
  if (Status connected = manager_.connect_client(session->peer.identity(session->id), sink); !connected.ok()) {
    session->close_after_send = connected.error().message();
    queue_send(session, reply_error(frame.request_id, MessageKind::hello, connected.error()));
    return;
  }
  session->connected_to_manager = true;
  session->state = ClientSession::State::ready;
  protocol::HelloReply reply;
  reply.version = std::min<std::uint16_t>(hello->max_version, protocol::kProtocolVersion);
  reply.client_id = session->id;
  reply.lease_break_ms = manager_.options().lease_break_ms;
  reply.daemon_version = options_.daemon_version;
  reply.mountpoint = options_.mountpoint;
  spdlog::debug("{} says HELLO as '{}', protocol version {}", session->describe(), hello->client_name,
                reply.version);
  queue_send(session, reply_ok(frame.request_id, MessageKind::hello, reply));
}

void ControlServer::dispatch(const std::shared_ptr<ClientSession>& session, const protocol::Frame& frame) {
  if (frame.kind == static_cast<std::uint16_t>(MessageKind::hello)) {
    close_session(session, "sent a second HELLO (out of order)", true);
    return;
  }
  auto dispatch = handlers_.handle(*session, frame);
  if (!dispatch.ok()) {
    close_session(session, "sent a malformed request: " + dispatch.error().message(), true);
    return;
  }
  if (dispatch->now) {
    queue_send(session, std::move(*dispatch->now));
    return;
  }
  session->busy = true;
  workers_->submit([this, client = session->id, work = std::move(dispatch->later),
                    mailbox = mailbox_]() mutable {
    Reply reply = work();
    mailbox->post([this, client, reply = std::move(reply)]() mutable {
      finish_deferred(client, std::move(reply));
    });
  });
}

void ControlServer::finish_deferred(pin::ClientId client, Reply reply) {
  auto it = sessions_.find(client);
  if (it == sessions_.end()) return;  // gone meanwhile: nobody to answer
  std::shared_ptr<ClientSession> session = it->second;
  session->busy = false;
  queue_send(session, std::move(reply));
  serve_frames(session);
}

void ControlServer::deliver_event(pin::ClientId client, std::vector<std::byte> bytes) {
  auto it = sessions_.find(client);
  if (it == sessions_.end()) return;
  queue_send(it->second, Reply{std::move(bytes)});
}

// --- Sending ---------------------------------------------------------------

void ControlServer::queue_send(const std::shared_ptr<ClientSession>& session, Reply reply) {
  if (session->state == ClientSession::State::closing) return;
  session->queued_bytes += reply.bytes.size();
  if (session->queued_bytes > kMaxQueuedBytesPerClient) {
    close_session(session,
                  "is not reading its socket (" + std::to_string(session->queued_bytes) +
                      " bytes of replies and events queued)",
                  true);
    return;
  }
  OutgoingFrame frame;
  frame.bytes = std::move(reply.bytes);
  frame.pass_fd = reply.pass_fd;
  session->outgoing.push_back(std::move(frame));
  if (!session->sending) send_next(session);
}

void ControlServer::send_next(const std::shared_ptr<ClientSession>& session) {
  if (session->outgoing.empty()) {
    if (!session->close_after_send.empty()) close_session(session, session->close_after_send, true);
    return;
  }
  OutgoingFrame& frame = session->outgoing.front();
  session->sending = true;
  auto done = [this, session](int result) {
    session->sending = false;
    if (session->state == ClientSession::State::closing) return;
    if (result < 0) {
      close_session(session, "send failed: " + Error::strerror_name(-result), false);
      return;
    }
    OutgoingFrame& sent = session->outgoing.front();
    sent.sent += static_cast<std::size_t>(result);
    sent.rights.reset();
    if (sent.sent == sent.bytes.size()) {
      session->queued_bytes -= sent.bytes.size();
      session->outgoing.pop_front();
    }
    send_next(session);
  };
  const std::span<const std::byte> rest = std::span(frame.bytes).subspan(frame.sent);
  if (frame.pass_fd >= 0 && frame.sent == 0) {
    frame.rights = std::make_unique<protocol::RightsMessage>(rest, frame.pass_fd);
    loop_->send_message(session->socket_fd, frame.rights->header(), std::move(done));
  } else {
    loop_->send(session->socket_fd, rest, std::move(done));
  }
}

// --- Closing ---------------------------------------------------------------

void ControlServer::close_session(const std::shared_ptr<ClientSession>& caller_session,
                                  const std::string& reason, bool misbehaved) {
  // A copy: callers may pass the map's own element (on_process_exit,
  // deliver_event), which sessions_.erase below destroys.
  const std::shared_ptr<ClientSession> session = caller_session;
  if (session->state == ClientSession::State::closing) return;
  session->state = ClientSession::State::closing;
  // Wakes the receive and any send in flight; the socket itself is closed
  // when the last operation lets go of the session.
  ::shutdown(session->socket_fd, SHUT_RDWR);
  if (session->connected_to_manager) manager_.drop_client(session->id);
  for (const auto& [handle, file] : session->files) fs_.release(file.ino);
  session->files.clear();
  sessions_.erase(session->id);
  session_count_ = sessions_.size();
  const std::size_t orphaned = manager_.pins().count_for_client(session->id);
  std::string outcome;
  if (orphaned > 0) {
    outcome = "; " + std::to_string(orphaned) +
              " pin(s) stay until its process has exited and its registrations are gone";
  }
  if (misbehaved) {
    spdlog::warn("{} {}: connection closed{}", session->describe(), reason, outcome);
  } else {
    spdlog::info("{} {}{}", session->describe(), reason, outcome);
  }
  end_watch_if_done(session->id);
  if (orphaned > 0 && !stopping_) reclaim();
}

// --- Processes and reclaim ----------------------------------------------

void ControlServer::watch_process(pin::ClientId client, int pidfd) {
  ProcessWatch watch;
  watch.pidfd = pidfd;
  watch.poll = loop_->poll_readable(pidfd, [this, client](int result) {
    if (result == -ECANCELED) return;
    on_process_exit(client);
  });
  watches_.emplace(client, watch);
  probes_.watch_process(client, pidfd);
}

void ControlServer::on_process_exit(pin::ClientId client) {
  auto watch = watches_.find(client);
  if (watch == watches_.end()) return;
  watch->second.exited = true;
  watch->second.poll = 0;
  if (auto session = sessions_.find(client); session != sessions_.end()) {
    close_session(session->second, "exited", false);
  }
  reclaim();
  end_watch_if_done(client);
}

void ControlServer::end_watch_if_done(pin::ClientId client) {
  auto watch = watches_.find(client);
  if (watch == watches_.end()) return;
  if (sessions_.count(client) != 0 || manager_.pins().count_for_client(client) != 0) return;
  if (watch->second.poll != 0) loop_->cancel(watch->second.poll);
  probes_.unwatch_process(client);
  ::close(watch->second.pidfd);
  watches_.erase(watch);
}

void ControlServer::reclaim() {
  const pin::ReclaimReport report = manager_.reclaim(probes_);
  if (!report.reclaimed.empty()) {
    std::uint64_t bytes = 0;
    for (const auto& range : report.released_quarantine) bytes += range.length;
    spdlog::info("reclaimed {} orphaned pin(s) whose process and registrations are gone; {} "
                 "quarantined bytes returned to the free pool",
                 report.reclaimed.size(), bytes);
  }
  if (probes_.rdma_absent() && !logged_pidfd_only_) {
    logged_pidfd_only_ = true;
    spdlog::info("this kernel has no RDMA: the check that a dead client's registrations are gone "
                 "is pidfd-only");
  }
  for (auto it = watches_.begin(); it != watches_.end();) {
    const pin::ClientId client = (it++)->first;
    end_watch_if_done(client);
  }
  if (report.still_waiting > 0 && !reclaim_armed_ && !stopping_) {
    reclaim_armed_ = true;
    loop_->sleep_for(kReclaimInterval, [this](int result) {
      reclaim_armed_ = false;
      if (result != -ECANCELED && !stopping_) reclaim();
    });
  }
}

}  // namespace pinfs::control
