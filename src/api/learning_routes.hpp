// Routes of the learning engine (docs/API.md "Learning engine"), registered by ApiServer.
#pragma once

namespace httplib {
class Server;
}

namespace flywall::api {

class Backend;

// GET /api/ebpf/learning, POST /api/ebpf/learning/proposals/{id}/apply|reject,
// POST /api/ebpf/learning/auto_apply?enabled=true|false (POSTs pass the server's token check).
void register_learning_routes(httplib::Server& srv, Backend& be);

}  // namespace flywall::api
