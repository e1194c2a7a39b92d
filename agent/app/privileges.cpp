#include "agent/app/privileges.h"

#include <cap-ng.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

namespace vigil::agent {

namespace fs = std::filesystem;

namespace {

Result<void> chown_tree(const fs::path& root, uid_t uid, gid_t gid) {
  std::error_code ec;
  if (!fs::exists(root, ec)) return {};
  auto one = [&](const fs::path& p) -> Result<void> {
    if (::lchown(p.c_str(), uid, gid) != 0) {
      return make_error(fmt::format("cannot hand {} to uid {}: {}", p.string(), uid, std::strerror(errno)));
    }
    return {};
  };
  if (auto r = one(root); !r) return r;
  for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::none, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (auto r = one(it->path()); !r) return r;
  }
  if (ec) return make_error(fmt::format("cannot walk {}: {}", root.string(), ec.message()));
  return {};
}

}  // namespace

Result<std::string> drop_privileges(const std::string& user, const std::vector<std::string>& owned) {
  if (::geteuid() != 0 || user.empty() || user == "root") return std::string();
  errno = 0;
  struct passwd* pw = ::getpwnam(user.c_str());
  if (pw == nullptr) {
    return make_error(fmt::format("agent.user: no user '{}' on this system (create it, e.g. 'adduser --system {}', "
                                  "or name another in agent.yaml)",
                                  user, user));
  }
  const uid_t uid = pw->pw_uid;
  const gid_t gid = pw->pw_gid;
  for (const auto& dir : owned) {
    if (auto r = chown_tree(dir, uid, gid); !r) return make_error(r.error());
  }
  capng_clear(CAPNG_SELECT_BOTH);
  if (capng_updatev(CAPNG_ADD, static_cast<capng_type_t>(CAPNG_EFFECTIVE | CAPNG_PERMITTED), CAP_NET_RAW,
                    CAP_DAC_READ_SEARCH, -1) != 0) {
    return make_error("cannot prepare the capability set");
  }
  // CAP_DAC_READ_SEARCH inheritable too (it gives nothing by itself across execve): it lets the
  // daemon raise it as an ambient capability for its compliance scan's child alone
  // (agent/checks/scheduled_scans.cpp). It has to be set before the bounding set is cleared.
  if (capng_update(CAPNG_ADD, CAPNG_INHERITABLE, CAP_DAC_READ_SEARCH) != 0) {
    return make_error("cannot prepare the capability set");
  }
  int rc = capng_change_id(static_cast<int>(uid), static_cast<int>(gid),
                           static_cast<capng_flags_t>(CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING));
  if (rc != 0) return make_error(fmt::format("cannot switch to user '{}' (libcap-ng error {})", user, rc));
  if (::getuid() != uid || ::geteuid() != uid || ::setuid(0) == 0) {
    return make_error(fmt::format("switching to user '{}' did not take", user));
  }
#if defined(__SANITIZE_ADDRESS__)
  // LeakSanitizer inspects the process at exit through ptrace, which a process that changed its
  // credentials refuses; sanitizer builds only (never a shipped one) stay dumpable for it.
  ::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
#endif
  return fmt::format("running as {} (uid {}) with CAP_NET_RAW and CAP_DAC_READ_SEARCH only", user, uid);
}

}  // namespace vigil::agent
