#include "topupd/adapters/notify/email_notifier.hpp"

#include <curl/curl.h>

#include <mutex>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "topupd/adapters/crypto/crypto.hpp"
#include "topupd/adapters/notify/message.hpp"
#include "topupd/adapters/qr/qr_image.hpp"

namespace topupd::adapters {
namespace {

namespace asio = boost::asio;

// Base64 in lines of 76 characters, as MIME wants.
std::string base64_lines(std::string_view data) {
  const std::string encoded = crypto::base64(data);
  std::string out;
  for (std::size_t i = 0; i < encoded.size(); i += 76) out += encoded.substr(i, 76) + "\r\n";
  return out;
}

std::string rfc5322_date(core::Timestamp now) {
  const std::time_t t = std::chrono::system_clock::to_time_t(
      std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
          now.time_since_epoch())));
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buffer[64];
  std::strftime(buffer, sizeof(buffer), "%a, %d %b %Y %H:%M:%S +0000", &utc);  // the C locale's names
  return buffer;
}

std::string domain_of(const std::string& address) {
  const auto at = address.rfind('@');
  std::string domain = at == std::string::npos ? "topupd.invalid" : address.substr(at + 1);
  while (!domain.empty() && domain.back() == '>') domain.pop_back();
  return domain;
}

std::string html_of(std::span<const Notification> batch, const notify::Presentation& p) {
  std::string html = "<!DOCTYPE html><html><body style=\"font-family:sans-serif\">";
  for (const auto& n : batch) {
    const char* colour = n.kind == core::DecisionKind::alert_resolved ? "#2eb67d"
                         : n.severity == "critical"                   ? "#d00000"
                         : n.severity == "warning"                    ? "#e8a317"
                                                                      : "#439fe0";
    auto f = notify::template_fields(n, p);
    html += fmt::format("<h2 style=\"color:{}\">{}</h2><p>{}</p><table>", colour, notify::html_escape(notify::headline(n)),
                        notify::html_escape(p.text_template.empty() ? n.reason : notify::message_text(n, p)));
    auto row = [&](const char* name, const std::string& value) {
      if (!value.empty()) html += fmt::format("<tr><th align=\"left\">{}</th><td>{}</td></tr>", name, notify::html_escape(value));
    };
    row("Balance", f["balance"]);
    row("Threshold", f["threshold"]);
    row("Runway", f["runway"]);
    if (n.top_up) {
      row("Top-up", fmt::format("{} of {}, {} ({}){}", f["topup_method"], f["topup_amount"], f["topup_state"],
                                f["topup_id"], n.top_up->needs_approval ? ", approval needed" : ""));
    } else {
      row("Action", n.action);
    }
    html += "</table>";
    if (!n.qr.empty()) {
      // The image is a part of the message (multipart/related), named by its index.
      html += fmt::format("<p><img src=\"cid:qris-{}@topupd\" alt=\"QRIS code\"></p><p><code>{}</code></p>",
                          &n - batch.data(), notify::html_escape(n.qr));
    }
    if (n.top_up && !n.top_up->approve_url.empty()) {
      html += "<p><a href=\"" + notify::html_escape(n.top_up->approve_url) + "\">Approve or reject</a></p>";
    }
    if (!p.dashboard_url.empty()) html += "<p><a href=\"" + notify::html_escape(p.dashboard_url) + "\">Dashboard</a></p>";
    if (!p.runbook_url.empty()) html += "<p><a href=\"" + notify::html_escape(p.runbook_url) + "\">Runbook</a></p>";
  }
  return html + "</body></html>";
}

struct Upload {
  std::string data;
  std::size_t offset = 0;
};

std::size_t read_upload(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto* upload = static_cast<Upload*>(user);
  const std::size_t n = std::min(size * count, upload->data.size() - upload->offset);
  std::memcpy(buffer, upload->data.data() + upload->offset, n);
  upload->offset += n;
  return n;
}

DeliveryResult send_blocking(const config::NotifierConfig& c, std::string message) {
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  CURL* curl = curl_easy_init();
  if (!curl) return DeliveryResult::retry("cannot start an SMTP client");
  Upload upload{std::move(message), 0};
  curl_slist* recipients = nullptr;
  for (const auto& to : c.to) recipients = curl_slist_append(recipients, ("<" + to + ">").c_str());
  curl_easy_setopt(curl, CURLOPT_URL, c.url.c_str());
  curl_easy_setopt(curl, CURLOPT_USE_SSL, c.starttls == "off"             ? CURLUSESSL_NONE
                                          : c.starttls == "opportunistic" ? CURLUSESSL_TRY
                                                                          : CURLUSESSL_ALL);
  if (!c.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, c.ca_file.c_str());
  if (!c.username.empty()) {
    curl_easy_setopt(curl, CURLOPT_USERNAME, c.username.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, c.password.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_MAIL_FROM, ("<" + c.from + ">").c_str());
  curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, recipients);
  curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_upload);
  curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
  curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(c.timeout).count()));
  if (c.proxy && !c.proxy->empty()) curl_easy_setopt(curl, CURLOPT_PROXY, c.proxy->c_str());
  const CURLcode code = curl_easy_perform(curl);
  long smtp_code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &smtp_code);
  curl_slist_free_all(recipients);
  curl_easy_cleanup(curl);
  if (code == CURLE_OK) return DeliveryResult::delivered();
  // The server's name and port, never the credentials.
  const std::string why = fmt::format("SMTP {}: {}{}", c.url.substr(0, c.url.find('?')), curl_easy_strerror(code),
                                      smtp_code ? fmt::format(" (server said {})", smtp_code) : "");
  switch (code) {
    case CURLE_LOGIN_DENIED:
    case CURLE_USE_SSL_FAILED:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return DeliveryResult::rejected(why);
    default:
      break;
  }
  if (smtp_code >= 500) return DeliveryResult::rejected(why);
  return DeliveryResult::retry(why);
}

asio::awaitable<DeliveryResult> send_on_worker(config::NotifierConfig c, std::string message) {
  co_return send_blocking(c, std::move(message));
}

class EmailNotifier final : public Notifier {
 public:
  EmailNotifier(config::NotifierConfig config, const core::Clock& clock, core::Random& random)
      : config_(std::move(config)), clock_(clock), random_(random) {}
  ~EmailNotifier() override { worker_.join(); }

  asio::awaitable<DeliveryResult> deliver(std::span<const Notification> batch) override {
    const std::string id = fmt::format("<{:016x}{:016x}@{}>", random_.next(), random_.next(), domain_of(config_.from));
    std::string message = email_message(batch, config_, clock_.now(), id);
    // libcurl blocks: it runs on the worker thread, the event loop carries on.
    auto task = asio::co_spawn(worker_, send_on_worker(config_, std::move(message)), asio::use_awaitable);
    co_return co_await std::move(task);
  }

 private:
  config::NotifierConfig config_;
  const core::Clock& clock_;
  core::Random& random_;
  asio::thread_pool worker_{1};
};

}  // namespace

std::string encode_header(std::string_view text) {
  const bool plain = std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
  if (plain) return std::string(text);
  return "=?UTF-8?B?" + crypto::base64(text) + "?=";
}

std::string email_message(std::span<const Notification> batch, const config::NotifierConfig& config,
                          core::Timestamp now, const std::string& message_id) {
  const notify::Presentation p{config.locale, config.dashboard_url, config.runbook_url, config.text_template};
  std::string subject = notify::headline(batch.front());
  if (batch.size() > 1) subject += fmt::format(" and {} more", batch.size() - 1);
  std::string to;
  for (const auto& address : config.to) to += (to.empty() ? "" : ", ") + address;
  const std::string boundary = "topupd-" + crypto::hex(crypto::sha256(message_id)).substr(0, 24);
  std::string m;
  m += "Date: " + rfc5322_date(now) + "\r\n";
  m += "From: " + config.from + "\r\n";
  m += "To: " + to + "\r\n";
  m += "Subject: " + encode_header(subject) + "\r\n";
  m += "Message-ID: " + message_id + "\r\n";
  m += "MIME-Version: 1.0\r\n";
  m += "Auto-Submitted: auto-generated\r\n";
  // QRIS codes travel as inline PNGs beside the text: multipart/related around the
  // alternatives, each image named by the Content-ID the HTML refers to.
  std::string images;
  const std::string related = boundary + "-related";
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].qr.empty()) continue;
    const auto image = qr::png(batch[i].qr);
    if (!image) continue;
    images += fmt::format("--{}\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n"
                          "Content-ID: <qris-{}@topupd>\r\nContent-Disposition: inline; filename=\"qris-{}.png\"\r\n\r\n",
                          related, i, i);
    images += base64_lines(*image);
  }
  if (!images.empty()) {
    m += "Content-Type: multipart/related; boundary=\"" + related + "\"\r\n\r\n";
    m += "--" + related + "\r\n";
  }
  m += "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n\r\n";
  m += "--" + boundary + "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  m += base64_lines(notify::batch_text(batch, p));
  m += "--" + boundary + "\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  m += base64_lines(html_of(batch, p));
  m += "--" + boundary + "--\r\n";
  if (!images.empty()) m += "\r\n" + images + "--" + related + "--\r\n";
  return m;
}

std::shared_ptr<Notifier> make_email_notifier(const config::NotifierConfig& config, const core::Clock& clock,
                                              core::Random& random) {
  return std::make_shared<EmailNotifier>(config, clock, random);
}

}  // namespace topupd::adapters
