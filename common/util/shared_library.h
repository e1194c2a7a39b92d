// A shared library opened when a feature first needs it rather than at the program's start (an
// idle agent then maps only the libraries it uses), and its functions looked up by name. The
// library stays loaded for the life of the process.
#pragma once

#include <dlfcn.h>

#include <initializer_list>
#include <string>

#include <fmt/format.h>

namespace vigil::util {

class SharedLibrary {
 public:
  // Opens the first of `names` that loads; when none does, error() says so and names the Debian
  // `package` to install.
  SharedLibrary(std::initializer_list<const char*> names, const char* package) {
    for (const char* name : names) {
      handle_ = ::dlopen(name, RTLD_NOW | RTLD_LOCAL);
      if (handle_ != nullptr) {
        name_ = name;
        return;
      }
    }
    const char* why = ::dlerror();
    error_ = fmt::format("cannot load {} (install {}): {}", *names.begin(), package, why ? why : "not found");
  }

  // Sets `fn` to the library's function `symbol`; false, with error() naming the first missing
  // one, when the library is not loaded or lacks it.
  template <typename Fn>
  bool get(Fn& fn, const char* symbol) {
    fn = handle_ != nullptr ? reinterpret_cast<Fn>(::dlsym(handle_, symbol)) : nullptr;
    if (fn == nullptr && error_.empty()) error_ = fmt::format("{} has no {}", name_, symbol);
    return fn != nullptr;
  }

  const std::string& error() const { return error_; }

 private:
  void* handle_ = nullptr;
  const char* name_ = "";
  std::string error_;
};

}  // namespace vigil::util
