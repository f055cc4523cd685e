// A QR code as a PNG and as terminal text (qr_image.hpp).
#include "topupd/adapters/qr/qr_image.hpp"

#include <qrencode.h>
#include <zlib.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace topupd::adapters::qr {
namespace {

// The module matrix: true is dark.
struct Matrix {
  int width = 0;
  std::vector<bool> dark;
  bool at(int x, int y) const { return x >= 0 && y >= 0 && x < width && y < width && dark[y * width + x]; }
};

std::optional<Matrix> encode(std::string_view text) {
  const std::string data(text);
  std::unique_ptr<QRcode, decltype(&QRcode_free)> code(
      QRcode_encodeData(static_cast<int>(data.size()), reinterpret_cast<const unsigned char*>(data.data()), 0,
                        QR_ECLEVEL_M),
      &QRcode_free);
  if (!code) return std::nullopt;
  Matrix m;
  m.width = code->width;
  m.dark.resize(static_cast<std::size_t>(m.width) * static_cast<std::size_t>(m.width));
  for (std::size_t i = 0; i < m.dark.size(); ++i) m.dark[i] = (code->data[i] & 1) != 0;
  return m;
}

void put_u32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

void chunk(std::string& out, const char* type, const std::string& data) {
  put_u32(out, static_cast<std::uint32_t>(data.size()));
  const std::string body = std::string(type, 4) + data;
  out += body;
  put_u32(out, static_cast<std::uint32_t>(
                   crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()))));
}

}  // namespace

std::optional<std::string> png(std::string_view text, int scale, int margin) {
  const auto m = encode(text);
  if (!m || scale < 1 || margin < 0) return std::nullopt;
  const int side = (m->width + 2 * margin) * scale;
  const int row_bytes = (side + 7) / 8;
  // Each row: filter byte 0, then 1 bit per pixel, 1 = white in grey-scale.
  std::string raw;
  raw.reserve(static_cast<std::size_t>(side) * static_cast<std::size_t>(row_bytes + 1));
  for (int y = 0; y < side; ++y) {
    raw.push_back(0);
    std::string row(static_cast<std::size_t>(row_bytes), '\0');
    for (int x = 0; x < side; ++x) {
      const bool dark = m->at(x / scale - margin, y / scale - margin);
      if (!dark) row[static_cast<std::size_t>(x / 8)] |= static_cast<char>(0x80 >> (x % 8));
    }
    raw += row;
  }
  uLongf packed_size = compressBound(static_cast<uLong>(raw.size()));
  std::string packed(packed_size, '\0');
  if (compress2(reinterpret_cast<Bytef*>(packed.data()), &packed_size, reinterpret_cast<const Bytef*>(raw.data()),
                static_cast<uLong>(raw.size()), Z_BEST_COMPRESSION) != Z_OK) {
    return std::nullopt;
  }
  packed.resize(packed_size);
  std::string out("\x89PNG\r\n\x1a\n", 8);
  std::string header;
  put_u32(header, static_cast<std::uint32_t>(side));
  put_u32(header, static_cast<std::uint32_t>(side));
  header += std::string("\x01\x00\x00\x00\x00", 5);  // bit depth 1, grey-scale, deflate, no filter, no interlace
  chunk(out, "IHDR", header);
  chunk(out, "IDAT", packed);
  chunk(out, "IEND", "");
  return out;
}

std::optional<std::string> terminal(std::string_view text) {
  const auto m = encode(text);
  if (!m) return std::nullopt;
  constexpr int kMargin = 2;
  std::string out;
  // Light modules are drawn and dark ones left blank: on a terminal with light text on
  // a dark background (a server's usual) the code reads dark on light, as scanners want.
  for (int y = -kMargin; y < m->width + kMargin; y += 2) {
    for (int x = -kMargin; x < m->width + kMargin; ++x) {
      const bool top = !m->at(x, y);
      const bool bottom = !m->at(x, y + 1);
      out += top && bottom ? "\u2588" : top ? "\u2580" : bottom ? "\u2584" : " ";
    }
    out += '\n';
  }
  return out;
}

}  // namespace topupd::adapters::qr
