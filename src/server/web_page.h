// GET /: a small chat page (plain HTML, CSS and JavaScript, no build step) that streams replies from
// /v1/chat/completions and shows tokens per second.
#pragma once

#include <string>

namespace loom::server {

const std::string& web_page();

}  // namespace loom::server
