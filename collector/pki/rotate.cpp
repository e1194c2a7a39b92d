#include "collector/pki/rotate.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

#include <fmt/format.h>

#include "common/pki/pki.h"

namespace vigil::collector {

namespace fs = std::filesystem;

namespace {

constexpr auto kCaValidity = std::chrono::hours(24 * 365 * 10);
constexpr auto kServerValidity = std::chrono::hours(24 * 825);

// Writes each file as NAME.new, then renames them all: a failure part-way leaves the old PKI
// whole. Run as root on a directory the collector's user owns (packaged installs), the files go
// to that user.
Result<void> replace_files(const fs::path& dir, const std::vector<std::tuple<std::string, std::string, bool>>& files) {
  struct stat owner {};
  const bool chown_to_owner = ::geteuid() == 0 && ::stat(dir.c_str(), &owner) == 0 && owner.st_uid != 0;
  for (const auto& [name, content, secret] : files) {
    fs::path tmp = dir / (name + ".new");
    if (auto w = pki::write_file(tmp, content, secret); !w) return w;
    if (chown_to_owner && ::chown(tmp.c_str(), owner.st_uid, owner.st_gid) != 0) {
      return make_error(fmt::format("cannot hand {} to uid {}: {}", tmp.string(), owner.st_uid, std::strerror(errno)));
    }
  }
  for (const auto& [name, content, secret] : files) {
    std::error_code ec;
    fs::rename(dir / (name + ".new"), dir / name, ec);
    if (ec) return make_error(fmt::format("cannot replace {}: {}", (dir / name).string(), ec.message()));
  }
  return {};
}

Result<std::string> pin_of(const std::string& pem) {
  auto cert = pki::cert_from_pem(pem);
  if (!cert) return make_error(cert.error());
  return pki::spki_pin(*cert);
}

}  // namespace

Result<RotationResult> rotate_ca(const fs::path& pki_dir) {
  auto bundle = pki::read_file(pki_dir / "ca.crt");
  auto key_pem = pki::read_file(pki_dir / "ca.key");
  if (!bundle) return make_error(bundle.error());
  if (!key_pem) return make_error(key_pem.error());
  auto certs = pki::split_certs(*bundle);
  if (!certs) return make_error(fmt::format("{}: {}", (pki_dir / "ca.crt").string(), certs.error()));
  if (certs->size() > 1) {
    return make_error("a CA rotation is already in its overlap (ca.crt holds two CAs): end it with "
                      "'vigil-collector ca retire-old' first");
  }
  auto old_ca = pki::cert_from_pem(certs->front());
  if (!old_ca) return make_error(old_ca.error());
  // A name of its own, so the two CAs of the overlap never look alike to a chain builder.
  std::string base = pki::common_name(*old_ca);
  if (auto at = base.find(" @"); at != std::string::npos) base.resize(at);
  char stamp[32];
  std::time_t now = std::time(nullptr);
  std::strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", std::gmtime(&now));
  auto key = pki::generate_key();
  if (!key) return make_error(key.error());
  auto ca = pki::make_ca(*key, fmt::format("{} @{}", base, stamp), kCaValidity);
  if (!ca) return make_error(ca.error());
  auto ca_pem = pki::to_pem(*ca);
  auto new_key_pem = pki::to_pem(*key);
  if (!ca_pem || !new_key_pem) return make_error("cannot encode the new CA");
  if (auto r = replace_files(pki_dir, {{"ca-old.key", *key_pem, true},
                                       {"ca.key", *new_key_pem, true},
                                       {"ca.crt", *ca_pem + certs->front(), false}});
      !r) {
    return make_error(r.error());
  }
  auto new_pin = pki::spki_pin(*ca);
  auto old_pin = pki::spki_pin(*old_ca);
  if (!new_pin || !old_pin) return make_error("cannot compute the CA pins");
  return RotationResult{*new_pin, *old_pin};
}

Result<RotationResult> retire_old_ca(const fs::path& pki_dir) {
  auto bundle = pki::read_file(pki_dir / "ca.crt");
  auto key_pem = pki::read_file(pki_dir / "ca.key");
  auto server_pem = pki::read_file(pki_dir / "server.crt");
  if (!bundle) return make_error(bundle.error());
  if (!key_pem) return make_error(key_pem.error());
  if (!server_pem) return make_error(server_pem.error());
  auto certs = pki::split_certs(*bundle);
  if (!certs) return make_error(fmt::format("{}: {}", (pki_dir / "ca.crt").string(), certs.error()));
  if (certs->size() < 2) return make_error("no CA rotation to end: ca.crt holds one CA ('vigil-collector ca rotate' starts one)");
  auto ca = pki::cert_from_pem(certs->front());
  auto key = pki::key_from_pem(*key_pem);
  auto server = pki::cert_from_pem(*server_pem);
  if (!ca || !key || !server) return make_error("cannot read the CA, its key or the server certificate");
  auto moved = pki::reissue(*server, *ca, *key, kServerValidity);
  if (!moved) return make_error(moved.error());
  auto moved_pem = pki::to_pem(*moved);
  if (!moved_pem) return make_error(moved_pem.error());
  if (auto r = replace_files(pki_dir, {{"server.crt", *moved_pem, false}, {"ca.crt", certs->front(), false}}); !r) {
    return make_error(r.error());
  }
  std::error_code ec;
  fs::remove(pki_dir / "ca-old.key", ec);
  auto new_pin = pin_of(certs->front());
  auto old_pin = pin_of((*certs)[1]);
  if (!new_pin || !old_pin) return make_error("cannot compute the CA pins");
  return RotationResult{*new_pin, *old_pin};
}

}  // namespace vigil::collector
