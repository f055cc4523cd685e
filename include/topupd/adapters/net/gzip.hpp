// gzip for HTTP answers (Content-Encoding: gzip), through zlib.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace topupd::adapters::net {

// `data` as one gzip member, at zlib's fastest level: a scrape wants it soon more
// than small.
std::string gzip(std::string_view data);
// The reverse, for tests and tools; nullopt when `data` is not valid gzip.
std::optional<std::string> gunzip(std::string_view data);
// Whether an Accept-Encoding header value accepts gzip (present, and not with q=0).
bool accepts_gzip(std::string_view accept_encoding);

}  // namespace topupd::adapters::net
