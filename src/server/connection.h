// Noticing that an HTTP client went away while its request is still generating. cpp-httplib 0.11 does not
// give handlers the socket, and its is_writable() only asks select(), which a closed peer passes; so the
// socket is found by its addresses, and polled for the peer's close.
#pragma once

#include <string>

namespace loom::server {

// The connected socket whose peer is remote_addr:remote_port and whose local port is local_port; -1 if none.
// The handler's connection stays open while the handler runs, so the descriptor cannot be reused meanwhile.
int find_connection_socket(const std::string& remote_addr, int remote_port, int local_port);

// Whether the peer closed (or reset) the connection. Reads nothing: data the client sent stays queued.
bool peer_closed(int fd);

}  // namespace loom::server
