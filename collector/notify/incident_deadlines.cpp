#include "collector/notify/incident_deadlines.h"

#include <fmt/format.h>

#include "common/log/logging.h"

namespace vigil::collector {

void IncidentDeadlines::check(Timestamp now) {
  IncidentFilter f;
  f.open_only = true;
  f.limit = kMaxWatched;
  auto list = store_.list_incidents(f);
  auto log = logging::get("notify");
  if (!list) {
    log->warn("incident deadlines: store: {}", list.error());
    return;
  }
  uint64_t overdue = 0;
  for (const auto& i : *list) {
    for (int which : {kOverdueNotify, kOverdueReport}) {
      const bool notify = which == kOverdueNotify;
      const Timestamp due = notify ? i.notify_due() : i.report_due();
      const Timestamp done = notify ? i.notified_at : i.reported_at;
      if (due.ns == 0 || done.ns != 0 || now.ns <= due.ns) continue;
      ++overdue;
      if (!announce_ || notifier_.size() == 0) continue;
      auto claimed = store_.claim_overdue_notice(i.id, which);
      if (!claimed) {
        log->warn("incident {}: store: {}", i.id, claimed.error());
        continue;
      }
      if (!*claimed) continue;  // told already, here or by another collector
      notify::Announcement a;
      a.id = fmt::format("incident-{}-{}", i.id, notify ? "notify" : "report");
      a.severity = i.severity;
      a.agencies = i.agencies;
      a.vi = notify::render_incident_overdue(i, which, "vi", console_url_, now);
      a.en = notify::render_incident_overdue(i, which, "en", console_url_, now);
      size_t targets = notifier_.announce(a);
      ++announced_;
      log->warn("incident {}: the {} deadline passed unmet ({}); told {} notify target(s)", i.id,
                notify ? "first notification" : "full report", due.to_string(), targets);
    }
  }
  active_ = list->size();
  overdue_ = overdue;
}

}  // namespace vigil::collector
