// The one walk over rule, policy and framework paths that every loader shares (the agent's rules
// and policies, the collector's catalogues and its check of pushed bundles): each path given is
// walked once (a directory recursively, or only its top level), *.yaml and *.yml taken, each file
// once by its canonical path, sorted within what each path gave, and each classified by its
// top-level keys read as text, so that a file with a syntax error keeps its kind and its error
// its position.
#pragma once

#include <filesystem>
#include <set>
#include <string>
#include <vector>

namespace vigil::config {

enum class ContentKind {
  rules,      // a native rule file: a YAML list at the top
  sigma,      // Sigma rules or correlations: a top-level `detection:` or `correlation:`
  policy,     // a top-level `policy:`
  framework,  // a top-level `framework:`
  unknown,    // none of these (the rule loader parses it to say why)
};

struct ContentFile {
  std::filesystem::path path;
  ContentKind kind = ContentKind::unknown;
};

struct ContentFiles {
  std::vector<ContentFile> files;
  std::vector<std::string> missing;  // paths given that do not exist
  // The files of one kind, in walk order.
  std::vector<std::filesystem::path> of(ContentKind kind) const;
};

// The kind of one file by its text (the first 100,000 lines at most).
ContentKind classify_content(const std::filesystem::path& file);

// Walks `paths` (a file given by name is taken whatever its extension). `seen` holds canonical
// paths already taken, so several walks can share it (a file is then taken by the first only).
ContentFiles walk_content(const std::vector<std::string>& paths, bool recursive = true);
void walk_content(const std::vector<std::string>& paths, bool recursive, ContentFiles& into,
                  std::set<std::string>& seen);

}  // namespace vigil::config
