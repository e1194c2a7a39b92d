#include "collector/notify/senders.h"

#include <curl/curl.h>

#include <chrono>
#include <cstring>
#include <mutex>

#include <fmt/format.h>

#include "common/ingest/bounded_json.h"
#include <nlohmann/json.hpp>

namespace vigil::collector::notify {

namespace {

constexpr long kConnectTimeoutSeconds = 10;
constexpr long kTimeoutSeconds = 30;
constexpr size_t kMaxAnswer = 64 * 1024;

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Easy {
  CURL* h = nullptr;
  char error[CURL_ERROR_SIZE] = {};
  Easy() : h(curl_easy_init()) {}
  ~Easy() {
    if (h) curl_easy_cleanup(h);
  }
  Easy(const Easy&) = delete;
  Easy& operator=(const Easy&) = delete;
};

struct SList {
  curl_slist* l = nullptr;
  ~SList() {
    if (l) curl_slist_free_all(l);
  }
  void add(const std::string& s) { l = curl_slist_append(l, s.c_str()); }
};

// Options both senders share: timeouts, no signals, TLS 1.2+, peer and host name verified.
void common_options(Easy& e, const std::string& ca, const char* protocols) {
  curl_easy_setopt(e.h, CURLOPT_ERRORBUFFER, e.error);
  curl_easy_setopt(e.h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e.h, CURLOPT_CONNECTTIMEOUT, kConnectTimeoutSeconds);
  curl_easy_setopt(e.h, CURLOPT_TIMEOUT, kTimeoutSeconds);
  curl_easy_setopt(e.h, CURLOPT_PROTOCOLS_STR, protocols);
  curl_easy_setopt(e.h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
  curl_easy_setopt(e.h, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  curl_easy_setopt(e.h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(e.h, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!ca.empty()) curl_easy_setopt(e.h, CURLOPT_CAINFO, ca.c_str());
}

std::string curl_failure(const Easy& e, CURLcode rc) {
  return e.error[0] ? std::string(e.error) : std::string(curl_easy_strerror(rc));
}

struct Upload {
  std::string_view data;
  size_t off = 0;
};

size_t read_upload(char* buf, size_t size, size_t n, void* user) {
  auto* u = static_cast<Upload*>(user);
  size_t len = std::min(size * n, u->data.size() - u->off);
  std::memcpy(buf, u->data.data() + u->off, len);
  u->off += len;
  return len;
}

size_t write_answer(char* buf, size_t size, size_t n, void* user) {
  auto* out = static_cast<std::string*>(user);
  size_t len = size * n;
  if (out->size() < kMaxAnswer) out->append(buf, std::min(len, kMaxAnswer - out->size()));
  return len;
}

// "[v6]" in URLs for IPv6 literals.
std::string url_host(const std::string& host) { return host.find(':') != std::string::npos ? "[" + host + "]" : host; }

class MailSender : public Sender {
 public:
  explicit MailSender(const NotifySection& t) : t_(t) {}

  Result<void> send(const Notice& notice, const std::string& message_id) override {
    Easy e;
    if (!e.h) return make_error("cannot start libcurl");
    MailHeaders h;
    h.from = t_.from;
    h.to = t_.to;
    h.date_unix =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    auto at = t_.from.rfind('@');
    h.message_id = message_id + (at == std::string::npos ? "@vigil" : t_.from.substr(at));
    const std::string message = mime_message(h, notice);

    common_options(e, t_.ca, "smtp,smtps");
    const std::string url =
        fmt::format("{}://{}:{}", t_.tls == "implicit" ? "smtps" : "smtp", url_host(t_.smtp.host), t_.smtp.port);
    curl_easy_setopt(e.h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(e.h, CURLOPT_USE_SSL, static_cast<long>(t_.tls == "none" ? CURLUSESSL_NONE : CURLUSESSL_ALL));
    if (!t_.username.empty()) {
      curl_easy_setopt(e.h, CURLOPT_USERNAME, t_.username.c_str());
      curl_easy_setopt(e.h, CURLOPT_PASSWORD, t_.password.c_str());
    }
    const std::string from = "<" + t_.from + ">";
    curl_easy_setopt(e.h, CURLOPT_MAIL_FROM, from.c_str());
    SList rcpt;
    for (const auto& a : t_.to) rcpt.add("<" + a + ">");
    curl_easy_setopt(e.h, CURLOPT_MAIL_RCPT, rcpt.l);
    Upload up{message};
    curl_easy_setopt(e.h, CURLOPT_READFUNCTION, read_upload);
    curl_easy_setopt(e.h, CURLOPT_READDATA, &up);
    curl_easy_setopt(e.h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e.h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message.size()));

    CURLcode rc = curl_easy_perform(e.h);
    if (rc != CURLE_OK) {
      long code = 0;
      curl_easy_getinfo(e.h, CURLINFO_RESPONSE_CODE, &code);
      std::string why = curl_failure(e, rc);
      if (code > 0) why += fmt::format(" (server answered {})", code);
      return make_error(scrub(fmt::format("SMTP {}:{}: {}", t_.smtp.host, t_.smtp.port, why), t_.password));
    }
    return {};
  }

 private:
  NotifySection t_;
};

class TelegramSender : public Sender {
 public:
  explicit TelegramSender(const NotifySection& t) : t_(t) {}

  Result<void> send(const Notice& notice, const std::string&) override {
    Easy e;
    if (!e.h) return make_error("cannot start libcurl");
    common_options(e, t_.ca, "https");
    const std::string url = t_.api_url + "/bot" + t_.bot_token + "/sendMessage";
    curl_easy_setopt(e.h, CURLOPT_URL, url.c_str());
    // Telegram takes 4096 characters a message; a digest is cut there.
    std::string text = notice.subject + "\n\n" + notice.body;
    text = cut_text(text, 4000);
    nlohmann::json body = {{"chat_id", t_.chat_id}, {"text", text}, {"disable_web_page_preview", true}};
    const std::string payload = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    curl_easy_setopt(e.h, CURLOPT_POSTFIELDS, payload.c_str());
    curl_easy_setopt(e.h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(payload.size()));
    SList headers;
    headers.add("Content-Type: application/json");
    curl_easy_setopt(e.h, CURLOPT_HTTPHEADER, headers.l);
    std::string answer;
    curl_easy_setopt(e.h, CURLOPT_WRITEFUNCTION, write_answer);
    curl_easy_setopt(e.h, CURLOPT_WRITEDATA, &answer);

    CURLcode rc = curl_easy_perform(e.h);
    if (rc != CURLE_OK) return make_error(scrub("Telegram API: " + curl_failure(e, rc), t_.bot_token));
    long status = 0;
    curl_easy_getinfo(e.h, CURLINFO_RESPONSE_CODE, &status);
    // The answer is bounded in size (kMaxAnswer) and, here, in depth.
    auto parsed = ingest::parse_bounded_json(answer);
    nlohmann::json j = parsed ? std::move(*parsed) : nlohmann::json();
    bool ok = status == 200 && j.is_object() && j.value("ok", false);
    if (!ok) {
      std::string desc = j.is_object() && j.contains("description") && j["description"].is_string()
                             ? one_line(j["description"].get<std::string>(), 200)
                             : "";
      return make_error(
          scrub(fmt::format("Telegram API answered {}{}", status, desc.empty() ? "" : ": " + desc), t_.bot_token));
    }
    return {};
  }

 private:
  NotifySection t_;
};

}  // namespace

std::string scrub(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
    text.replace(at, secret.size(), "<hidden>");
  }
  return text;
}

std::unique_ptr<Sender> make_sender(const NotifySection& target) {
  global_init();
  if (target.type == "telegram") return std::make_unique<TelegramSender>(target);
  return std::make_unique<MailSender>(target);
}

}  // namespace vigil::collector::notify
