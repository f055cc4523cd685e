// gzip through zlib (gzip.hpp).
#include "topupd/adapters/net/gzip.hpp"

#include <stdexcept>

#include <zlib.h>

namespace topupd::adapters::net {

namespace {
constexpr int kGzipWindow = 15 + 16;  // 15-bit window, gzip header and trailer
}  // namespace

std::string gzip(std::string_view data) {
  z_stream stream{};
  if (deflateInit2(&stream, Z_BEST_SPEED, Z_DEFLATED, kGzipWindow, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("gzip: zlib would not start");
  }
  std::string out(deflateBound(&stream, static_cast<uLong>(data.size())), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int result = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  if (result != Z_STREAM_END) throw std::runtime_error("gzip: zlib did not finish");
  return out;
}

std::optional<std::string> gunzip(std::string_view data) {
  z_stream stream{};
  if (inflateInit2(&stream, kGzipWindow) != Z_OK) return std::nullopt;
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char buffer[16384];
  int result = Z_OK;
  while (result == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof buffer;
    result = inflate(&stream, Z_NO_FLUSH);
    out.append(buffer, sizeof buffer - stream.avail_out);
  }
  inflateEnd(&stream);
  if (result != Z_STREAM_END) return std::nullopt;
  return out;
}

bool accepts_gzip(std::string_view accept_encoding) {
  std::size_t start = 0;
  while (start <= accept_encoding.size()) {
    const std::size_t end = std::min(accept_encoding.find(',', start), accept_encoding.size());
    std::string_view item = accept_encoding.substr(start, end - start);
    start = end + 1;
    const std::size_t semicolon = item.find(';');
    std::string_view coding = item.substr(0, semicolon);
    while (!coding.empty() && coding.front() == ' ') coding.remove_prefix(1);
    while (!coding.empty() && coding.back() == ' ') coding.remove_suffix(1);
    if (coding != "gzip" && coding != "x-gzip" && coding != "*") continue;
    if (semicolon == std::string_view::npos) return true;
    std::string_view parameter = item.substr(semicolon + 1);
    while (!parameter.empty() && parameter.front() == ' ') parameter.remove_prefix(1);
    // q=0, q=0.0, q=0.000: refused; any other weight accepts.
    if (parameter.substr(0, 2) == "q=" && parameter.substr(2).find_first_not_of("0.") == std::string_view::npos) {
      continue;
    }
    return true;
  }
  return false;
}

}  // namespace topupd::adapters::net
