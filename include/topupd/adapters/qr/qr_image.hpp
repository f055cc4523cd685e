// A QR code drawn for people: as a PNG (for e-mail and Telegram) and as text for a
// terminal (`topupctl tickets`). The code is made by libqrencode (error correction M,
// 8-bit mode, so a QRIS payload is encoded exactly as given); the PNG is written here
// (grey-scale, 1 bit per pixel, zlib). nullopt when the text cannot be encoded (too
// long for a QR code).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace topupd::adapters::qr {

// `scale` pixels per module and a quiet zone of `margin` modules on each side.
std::optional<std::string> png(std::string_view text, int scale = 6, int margin = 4);
// Two module rows per text line (Unicode half blocks) with a quiet zone; light modules
// are drawn, so it reads dark on light on a terminal with light text on dark.
std::optional<std::string> terminal(std::string_view text);

}  // namespace topupd::adapters::qr
