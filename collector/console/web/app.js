// Vigil web console: a page of plain DOM code over the collector's JSON API (/api/v1/...).
// Every piece of data reaches the page through textContent or a text node: alert evidence holds
// attacker-controlled strings (URLs, user agents, log lines), and none of it is ever parsed as
// HTML. Charts are SVG elements made with createElementNS. No inline script or style: the
// Content-Security-Policy allows this file and app.css only.
'use strict';

(function () {
  // ---------------------------------------------------------------------------------------
  // Words
  const I18N = {
    en: {
      'app.title': 'Vigil console',
      'nav.overview': 'Overview', 'nav.alerts': 'Alerts', 'nav.events': 'Events', 'nav.agents': 'Agents', 'nav.groups': 'Groups', 'nav.compliance': 'Compliance', 'nav.incidents': 'Incidents',
      'login.title': 'Sign in to Vigil', 'login.user': 'User name', 'login.password': 'Password',
      'login.submit': 'Sign in', 'login.failed': 'Sign-in failed', 'logout': 'Sign out',
      'lang.switch': 'Tiếng Việt', 'lang.label': 'Language',
      'loading': 'Loading…', 'error.load': 'Could not load', 'error.refused': 'Refused ({status}): {msg}', 'none': 'Nothing to show.',
      'sev.1': 'info', 'sev.2': 'low', 'sev.3': 'medium', 'sev.4': 'high', 'sev.5': 'critical',
      'status.new': 'new', 'status.acknowledged': 'acknowledged', 'status.resolved': 'resolved',
      'status.false_positive': 'false positive',
      'agent.online': 'online', 'agent.silent': 'silent', 'agent.revoked': 'revoked',
      'ov.title': 'Overview', 'ov.agents': 'Agents', 'ov.online': 'Online', 'ov.silent': 'Silent',
      'ov.revoked': 'Revoked', 'ov.new_alerts': 'New alerts', 'ov.alerts_14d': 'Alerts (14 days)',
      'ov.by_severity': 'Alerts by severity, per day', 'ov.by_agency': 'Alerts by agency, per day',
      'ov.compliance': 'Compliance score per agency', 'ov.silent_list': 'Silent agents',
      'ov.truncated': 'Charts cover the newest {n} alerts of the period.',
      'al.title': 'Alerts', 'al.severity': 'Severity (at least)', 'al.status': 'Status', 'al.agency': 'Agency',
      'al.sev_col': 'Severity', 'al.agent': 'Agent', 'al.rule': 'Rule', 'al.from': 'From', 'al.to': 'To', 'al.any': 'any',
      'al.apply': 'Apply', 'al.reset': 'Reset', 'al.time': 'Time', 'al.host': 'Host', 'al.source': 'Source',
      'al.assignee': 'Assignee', 'al.id': 'ID', 'al.newer': '← Newer', 'al.older': 'Older →',
      'al.page': 'Page {n}', 'al.keys': 'Keys: j/k move, Enter opens, a acknowledge, r resolve, f false positive, ? help',
      'act.ack': 'Acknowledge', 'act.resolve': 'Resolve', 'act.fp': 'False positive', 'act.reopen': 'Reopen',
      'act.assign': 'Assign', 'act.comment': 'Add comment', 'act.assign_to': 'Assign to (user name)',
      'act.comment_text': 'Comment', 'act.done': 'Saved', 'act.select': 'Select an alert first',
      'det.back': '← Alerts', 'det.facts': 'Alert', 'det.rule': 'Rule that fired', 'det.evidence': 'Evidence',
      'det.events': 'Events that caused it', 'det.raw': 'Alert event (JSON)', 'det.history': 'History',
      'det.triage': 'Triage', 'det.who': 'Who', 'det.action': 'Action', 'det.value': 'Value',
      'det.technique': 'ATT&CK technique', 'det.tags': 'Tags', 'det.author': 'Author', 'det.license': 'License',
      'det.description': 'Description', 'det.destination': 'Destination', 'det.user': 'User', 'det.url': 'URL',
      'det.no_history': 'No changes yet.', 'det.field': 'Field',
      'det.pivots': 'Investigate', 'det.pivot_source': 'Events from this source ±1 h',
      'det.pivot_host': 'Events on this host ±15 min',
      'ev.title': 'Events', 'ev.query': 'Query', 'ev.search': 'Search', 'ev.window': 'Time window',
      'ev.w1h': 'Last hour', 'ev.w24h': 'Last 24 hours', 'ev.w7d': 'Last 7 days', 'ev.custom': 'Custom',
      'ev.placeholder': 'source.ip:10.0.0.0/8 AND NOT event.dataset:sshd, or words of the log line',
      'ev.syntax': 'Syntax', 'ev.dataset': 'Dataset', 'ev.summary': 'Summary',
      'ev.histogram': 'Events over time', 'ev.zoom': 'click a bar to zoom in',
      'ev.total': '{n} events from {since} to {until}', 'ev.shown': '{n} shown, newest first',
      'ev.more': 'older ones on the next page', 'ev.no_more': 'no more',
      'ev.no_hits': 'No events match.', 'ev.expand': 'Click a row to see all its fields.',
      'ev.position': 'at position {n}', 'ev.first': '« Newest',
      'ag.title': 'Agents', 'ag.id': 'Agent', 'ag.host': 'Host', 'ag.agency': 'Agency', 'ag.level': 'Level',
      'ag.version': 'Version', 'ag.status': 'Status', 'ag.last_seen': 'Last seen', 'ag.enrolled': 'Enrolled',
      'ag.revoke': 'Revoke', 'ag.confirm': 'Confirm revoke', 'ag.revoked_ok': 'Agent revoked',
      'ag.group': 'Group', 'ag.bundle': 'Bundle version', 'ag.outdated': 'outdated', 'ag.newest': 'newest seen: {v}',
      'ag.bundle_error': 'bundle error',
      'gr.title': 'Groups', 'gr.name': 'Name', 'gr.description': 'Description', 'gr.version': 'Current version',
      'gr.agents': 'Agents', 'gr.created': 'Created', 'gr.no_version': 'nothing pushed yet',
      'gr.push_hint': 'Rules and policies are pushed from files, with:',
      'gr.new': 'New group', 'gr.create': 'Create group', 'gr.created_ok': 'Group created',
      'gr.name_hint': 'Name: letters, digits and . _ @ -, at most 64 characters. Description: at most 500 characters.',
      'gr.back': '← Groups', 'gr.group': 'Group {name}', 'gr.on_latest': 'agents on the latest version',
      'gr.status': 'Agents in the group', 'gr.agent': 'Agent', 'gr.agent_version': 'Agent version',
      'gr.runs': 'Version it runs', 'gr.applied': 'Applied at', 'gr.error': 'Error', 'gr.behind': 'behind',
      'gr.other_group': 'still runs group {g}', 'gr.no_agents': 'No active agent in this group.',
      'gr.history': 'History', 'gr.hist_version': 'Version', 'gr.author': 'Author', 'gr.message': 'Message',
      'gr.rollback_of': 'rollback of {n}', 'gr.current': 'current', 'gr.no_history': 'Nothing pushed yet.',
      'gr.rollback': 'Roll back to this version', 'gr.confirm_rollback': 'Confirm: roll back to version {n}',
      'gr.rolled_back': 'Version {v} restores version {n}',
      'co.title': 'Compliance', 'co.score': 'Score', 'co.framework': 'Framework', 'co.agents': 'agents',
      'co.pass': 'pass', 'co.fail': 'fail', 'co.error': 'error', 'co.not_applicable': 'not applicable',
      'co.waived': 'waived', 'co.not_checked': 'not checked', 'co.controls': 'Controls',
      'co.controls_met': 'controls met', 'co.control': 'Control', 'co.status': 'Status',
      'co.failing': 'Failing checks', 'co.check': 'Check', 'co.title_col': 'Title', 'co.result': 'Result',
      'co.evidence': 'Evidence', 'co.remediation': 'Remediation', 'co.level': 'Level', 'co.agent': 'Agent',
      'co.report': 'Printable report', 'co.trend': 'Trend', 'co.policies': 'Policies', 'co.groups': 'Control groups', 'co.more': 'More',
      'co.self_assessment': 'Self-assessment', 'co.by_agent': 'Per agent', 'co.not_listed': '{n} more not listed',
      'co.all_agents': 'all agents', 'co.failing_count': 'failing or in error', 'co.no_score': 'no results yet',
      'nav.systems': 'Systems', 'sy.title': 'Information systems', 'sy.name': 'System', 'sy.agency': 'Agency', 'sy.level': 'Level',
      'sy.hosts': 'Hosts', 'sy.description': 'Description', 'sy.score': 'Score', 'sy.create': 'New system', 'sy.add': 'Create',
      'sy.created': 'System created', 'sy.saved': 'System saved', 'sy.save': 'Save', 'sy.edit': 'Level and description',
      'sy.back': '← Systems', 'sy.no_hosts': 'No host serves this system yet.', 'sy.unassigned': 'Hosts serving no system',
      'sy.unassigned_note': 'each at its own level', 'sy.systems': 'Systems', 'sy.agent_systems': 'Systems (comma separated)',
      'sy.agent_saved': 'Agent systems saved', 'sy.none': 'none', 'sy.by_system': 'By information system',
      'sy.requirement': 'Requirement', 'sy.verdict': 'Verdict', 'sy.observed': 'Observed', 'sy.expected': 'Expected',
      'sy.counts_note': 'A host serving several systems counts for each, at that system\'s level.',
      'v.fully': 'fully', 'v.partly': 'partly', 'v.not': 'not implemented', 'v.not_assessed': 'not assessed', 'v.not_required': 'not required',
      'help.title': 'Keyboard', 'help.move': 'next / previous alert', 'help.open': 'open the alert',
      'help.ack': 'acknowledge', 'help.resolve': 'resolve', 'help.fp': 'false positive', 'help.reopen': 'reopen',
      'help.assign': 'assign (detail view)', 'help.comment': 'comment (detail view)', 'help.back': 'back to the list',
      'help.pages': 'older / newer page', 'help.close': 'Close',

      'in.title': 'Incidents', 'in.id': 'ID', 'in.status': 'Status', 'in.deadline': 'Deadline', 'in.agencies': 'Agencies',
      'in.hosts': 'Hosts', 'in.systems': 'Information systems', 'in.no_systems': 'none (unassigned hosts)', 'in.alerts': 'Alerts', 'in.title_col': 'Title', 'in.all': 'all', 'in.active': 'active (not yet reported)',
      'in.st.open': 'open', 'in.st.contained': 'contained', 'in.st.resolved': 'resolved', 'in.st.reported': 'reported',
      'in.back': '← Incidents', 'in.facts': 'Incident', 'in.severity': 'Severity', 'in.assignee': 'Assignee',
      'in.nobody': 'nobody', 'in.detected': 'Detected', 'in.created': 'Opened',
      'in.clock': 'Reporting deadlines', 'in.due': 'Due', 'in.state': 'State', 'in.left': 'Time left', 'in.done_at': 'Done at',
      'in.timeline': 'Timeline', 'in.actions': 'Actions', 'in.move': 'Move to', 'in.final': 'Reported: the last step.',
      'in.notify': 'Record first notification', 'in.notify_note': 'Note (optional): whom, how, reference',
      'in.notified_at': 'First notification recorded at {t}.', 'in.add_alert': 'Add alert', 'in.alert_id': 'Alert ID',
      'in.report': 'Printable report', 'in.report_vi': 'Report (Vietnamese)', 'in.report_en': 'Report (English)',
      'in.no_alerts': 'No alerts.', 'in.older': 'Older →', 'in.first': '« Newest',
      'in.new': 'Open incident', 'in.new_title': 'Incident title', 'in.new_severity': 'Severity',
      'in.picked': '{n} alerts selected', 'in.pick': 'Select for an incident', 'in.pick_first': 'Select alerts first',
      'in.created_ok': 'Incident #{id} opened', 'in.clear': 'Clear selection', 'in.from_alert': 'Open an incident from this alert',
      'in.title_needed': 'Give the incident a title',
      'clock.notify': 'First notification', 'clock.report': 'Full report',
      'clock.notify_in': 'notify in {t}', 'clock.report_in': 'report in {t}',
      'clock.notify_late': 'notification {t} late', 'clock.report_late': 'report {t} late',
      'clock.none': 'no deadline', 'clock.pending': 'pending', 'clock.overdue': 'overdue', 'clock.met': 'met',
      'clock.met_late': 'met late', 'clock.late': '{t} late',
      'unit.d': '{n}d', 'unit.h': '{n}h', 'unit.m': '{n}m', 'unit.s': '{n}s',
      'tl.created': 'opened the incident', 'tl.alert': 'added an alert', 'tl.status': 'changed the status',
      'tl.assign': 'assigned', 'tl.comment': 'commented', 'tl.notified': 'recorded the first notification',
    },
    vi: {
      'app.title': 'Bảng điều khiển Vigil',
      'nav.overview': 'Tổng quan', 'nav.alerts': 'Cảnh báo', 'nav.events': 'Sự kiện', 'nav.agents': 'Tác tử', 'nav.groups': 'Nhóm', 'nav.compliance': 'Tuân thủ', 'nav.incidents': 'Sự cố',
      'login.title': 'Đăng nhập Vigil', 'login.user': 'Tên người dùng', 'login.password': 'Mật khẩu',
      'login.submit': 'Đăng nhập', 'login.failed': 'Đăng nhập không thành công', 'logout': 'Đăng xuất',
      'lang.switch': 'English', 'lang.label': 'Ngôn ngữ',
      'loading': 'Đang tải…', 'error.load': 'Không tải được', 'error.refused': 'Bị từ chối ({status}): {msg}', 'none': 'Không có dữ liệu.',
      'sev.1': 'thông tin', 'sev.2': 'thấp', 'sev.3': 'trung bình', 'sev.4': 'cao', 'sev.5': 'nghiêm trọng',
      'status.new': 'mới', 'status.acknowledged': 'đã tiếp nhận', 'status.resolved': 'đã xử lý',
      'status.false_positive': 'cảnh báo nhầm',
      'agent.online': 'trực tuyến', 'agent.silent': 'mất liên lạc', 'agent.revoked': 'đã thu hồi',
      'ov.title': 'Tổng quan', 'ov.agents': 'Tác tử', 'ov.online': 'Trực tuyến', 'ov.silent': 'Mất liên lạc',
      'ov.revoked': 'Đã thu hồi', 'ov.new_alerts': 'Cảnh báo mới', 'ov.alerts_14d': 'Cảnh báo (14 ngày)',
      'ov.by_severity': 'Cảnh báo theo mức độ, từng ngày', 'ov.by_agency': 'Cảnh báo theo cơ quan, từng ngày',
      'ov.compliance': 'Điểm tuân thủ theo cơ quan', 'ov.silent_list': 'Tác tử mất liên lạc',
      'ov.truncated': 'Biểu đồ tính trên {n} cảnh báo mới nhất của giai đoạn.',
      'al.title': 'Cảnh báo', 'al.severity': 'Mức độ (tối thiểu)', 'al.status': 'Trạng thái', 'al.agency': 'Cơ quan',
      'al.sev_col': 'Mức độ', 'al.agent': 'Tác tử', 'al.rule': 'Luật', 'al.from': 'Từ', 'al.to': 'Đến', 'al.any': 'tất cả',
      'al.apply': 'Lọc', 'al.reset': 'Xoá bộ lọc', 'al.time': 'Thời gian', 'al.host': 'Máy chủ', 'al.source': 'Nguồn',
      'al.assignee': 'Người xử lý', 'al.id': 'Mã', 'al.newer': '← Mới hơn', 'al.older': 'Cũ hơn →',
      'al.page': 'Trang {n}', 'al.keys': 'Phím: j/k di chuyển, Enter mở, a tiếp nhận, r xử lý xong, f cảnh báo nhầm, ? trợ giúp',
      'act.ack': 'Tiếp nhận', 'act.resolve': 'Đã xử lý', 'act.fp': 'Cảnh báo nhầm', 'act.reopen': 'Mở lại',
      'act.assign': 'Giao việc', 'act.comment': 'Thêm ghi chú', 'act.assign_to': 'Giao cho (tên người dùng)',
      'act.comment_text': 'Ghi chú', 'act.done': 'Đã lưu', 'act.select': 'Hãy chọn một cảnh báo trước',
      'det.back': '← Cảnh báo', 'det.facts': 'Cảnh báo', 'det.rule': 'Luật phát hiện', 'det.evidence': 'Bằng chứng',
      'det.events': 'Các sự kiện gây ra cảnh báo', 'det.raw': 'Sự kiện cảnh báo (JSON)', 'det.history': 'Lịch sử',
      'det.triage': 'Xử lý', 'det.who': 'Người thực hiện', 'det.action': 'Thao tác', 'det.value': 'Giá trị',
      'det.technique': 'Kỹ thuật ATT&CK', 'det.tags': 'Nhãn', 'det.author': 'Tác giả', 'det.license': 'Giấy phép',
      'det.description': 'Mô tả', 'det.destination': 'Đích', 'det.user': 'Người dùng', 'det.url': 'URL',
      'det.no_history': 'Chưa có thay đổi.', 'det.field': 'Trường',
      'det.pivots': 'Điều tra', 'det.pivot_source': 'Sự kiện từ nguồn này ±1 giờ',
      'det.pivot_host': 'Sự kiện trên máy chủ này ±15 phút',
      'ev.title': 'Sự kiện', 'ev.query': 'Truy vấn', 'ev.search': 'Tìm kiếm', 'ev.window': 'Khoảng thời gian',
      'ev.w1h': '1 giờ qua', 'ev.w24h': '24 giờ qua', 'ev.w7d': '7 ngày qua', 'ev.custom': 'Tuỳ chọn',
      'ev.placeholder': 'source.ip:10.0.0.0/8 AND NOT event.dataset:sshd, hoặc các từ trong dòng nhật ký',
      'ev.syntax': 'Cú pháp', 'ev.dataset': 'Loại dữ liệu', 'ev.summary': 'Tóm tắt',
      'ev.histogram': 'Số sự kiện theo thời gian', 'ev.zoom': 'bấm vào một cột để phóng to',
      'ev.total': '{n} sự kiện từ {since} đến {until}', 'ev.shown': 'hiển thị {n}, mới nhất trước',
      'ev.more': 'còn sự kiện cũ hơn ở trang sau', 'ev.no_more': 'không còn',
      'ev.no_hits': 'Không có sự kiện nào khớp.', 'ev.expand': 'Bấm vào một dòng để xem mọi trường của sự kiện.',
      'ev.position': 'tại vị trí {n}', 'ev.first': '« Mới nhất',
      'ag.title': 'Tác tử', 'ag.id': 'Tác tử', 'ag.host': 'Máy chủ', 'ag.agency': 'Cơ quan', 'ag.level': 'Cấp độ',
      'ag.version': 'Phiên bản', 'ag.status': 'Trạng thái', 'ag.last_seen': 'Liên lạc gần nhất', 'ag.enrolled': 'Ngày đăng ký',
      'ag.revoke': 'Thu hồi', 'ag.confirm': 'Xác nhận thu hồi', 'ag.revoked_ok': 'Đã thu hồi tác tử',
      'ag.group': 'Nhóm', 'ag.bundle': 'Phiên bản gói', 'ag.outdated': 'phiên bản cũ', 'ag.newest': 'mới nhất hiện có: {v}',
      'ag.bundle_error': 'lỗi gói',
      'gr.title': 'Nhóm', 'gr.name': 'Tên', 'gr.description': 'Mô tả', 'gr.version': 'Phiên bản hiện tại',
      'gr.agents': 'Tác tử', 'gr.created': 'Ngày tạo', 'gr.no_version': 'chưa đẩy phiên bản nào',
      'gr.push_hint': 'Luật và chính sách được đẩy từ tệp, bằng lệnh:',
      'gr.new': 'Nhóm mới', 'gr.create': 'Tạo nhóm', 'gr.created_ok': 'Đã tạo nhóm',
      'gr.name_hint': 'Tên: chữ cái, chữ số và . _ @ -, tối đa 64 ký tự. Mô tả: tối đa 500 ký tự.',
      'gr.back': '← Nhóm', 'gr.group': 'Nhóm {name}', 'gr.on_latest': 'tác tử đang chạy phiên bản mới nhất',
      'gr.status': 'Tác tử trong nhóm', 'gr.agent': 'Tác tử', 'gr.agent_version': 'Phiên bản tác tử',
      'gr.runs': 'Phiên bản đang chạy', 'gr.applied': 'Thời điểm áp dụng', 'gr.error': 'Lỗi', 'gr.behind': 'chưa cập nhật',
      'gr.other_group': 'vẫn chạy nhóm {g}', 'gr.no_agents': 'Nhóm chưa có tác tử nào đang hoạt động.',
      'gr.history': 'Lịch sử', 'gr.hist_version': 'Phiên bản', 'gr.author': 'Người thực hiện', 'gr.message': 'Ghi chú',
      'gr.rollback_of': 'khôi phục phiên bản {n}', 'gr.current': 'hiện tại', 'gr.no_history': 'Chưa đẩy phiên bản nào.',
      'gr.rollback': 'Khôi phục phiên bản này', 'gr.confirm_rollback': 'Xác nhận: khôi phục phiên bản {n}',
      'gr.rolled_back': 'Phiên bản {v} khôi phục phiên bản {n}',
      'co.title': 'Tuân thủ', 'co.score': 'Điểm', 'co.framework': 'Khung tiêu chuẩn', 'co.agents': 'tác tử',
      'co.pass': 'đạt', 'co.fail': 'không đạt', 'co.error': 'lỗi', 'co.not_applicable': 'không áp dụng',
      'co.waived': 'được miễn trừ', 'co.not_checked': 'chưa kiểm tra', 'co.controls': 'Yêu cầu',
      'co.controls_met': 'yêu cầu đáp ứng', 'co.control': 'Yêu cầu', 'co.status': 'Trạng thái',
      'co.failing': 'Kiểm tra không đạt', 'co.check': 'Kiểm tra', 'co.title_col': 'Nội dung', 'co.result': 'Kết quả',
      'co.evidence': 'Bằng chứng', 'co.remediation': 'Khắc phục', 'co.level': 'Cấp độ', 'co.agent': 'Tác tử',
      'co.report': 'Báo cáo để in', 'co.trend': 'Xu hướng', 'co.policies': 'Chính sách', 'co.groups': 'Nhóm yêu cầu', 'co.more': 'Thông tin khác',
      'co.self_assessment': 'Tự đánh giá', 'co.by_agent': 'Theo tác tử', 'co.not_listed': 'còn {n} mục không liệt kê',
      'co.all_agents': 'tất cả tác tử', 'co.failing_count': 'không đạt hoặc lỗi', 'co.no_score': 'chưa có kết quả',
      'nav.systems': 'Hệ thống', 'sy.title': 'Hệ thống thông tin', 'sy.name': 'Hệ thống', 'sy.agency': 'Cơ quan', 'sy.level': 'Cấp độ',
      'sy.hosts': 'Máy chủ', 'sy.description': 'Mô tả', 'sy.score': 'Điểm', 'sy.create': 'Thêm hệ thống', 'sy.add': 'Tạo',
      'sy.created': 'Đã tạo hệ thống', 'sy.saved': 'Đã lưu hệ thống', 'sy.save': 'Lưu', 'sy.edit': 'Cấp độ và mô tả',
      'sy.back': '← Hệ thống', 'sy.no_hosts': 'Chưa có máy nào phục vụ hệ thống này.', 'sy.unassigned': 'Máy chưa gắn với hệ thống nào',
      'sy.unassigned_note': 'mỗi máy theo cấp độ riêng', 'sy.systems': 'Hệ thống', 'sy.agent_systems': 'Hệ thống (phân cách bằng dấu phẩy)',
      'sy.agent_saved': 'Đã lưu hệ thống của tác tử', 'sy.none': 'không có', 'sy.by_system': 'Theo hệ thống thông tin',
      'sy.requirement': 'Yêu cầu', 'sy.verdict': 'Mức độ đáp ứng', 'sy.observed': 'Thực tế', 'sy.expected': 'Yêu cầu',
      'sy.counts_note': 'Máy phục vụ nhiều hệ thống được tính cho từng hệ thống, theo cấp độ của hệ thống đó.',
      'v.fully': 'đáp ứng đầy đủ', 'v.partly': 'đáp ứng một phần', 'v.not': 'chưa đáp ứng', 'v.not_assessed': 'chưa đánh giá', 'v.not_required': 'không yêu cầu',
      'help.title': 'Phím tắt', 'help.move': 'cảnh báo sau / trước', 'help.open': 'mở cảnh báo',
      'help.ack': 'tiếp nhận', 'help.resolve': 'đã xử lý', 'help.fp': 'cảnh báo nhầm', 'help.reopen': 'mở lại',
      'help.assign': 'giao việc (trang chi tiết)', 'help.comment': 'ghi chú (trang chi tiết)',
      'help.back': 'về danh sách', 'help.pages': 'trang cũ hơn / mới hơn', 'help.close': 'Đóng',

      'in.title': 'Sự cố', 'in.id': 'Mã', 'in.status': 'Trạng thái', 'in.deadline': 'Thời hạn', 'in.agencies': 'Cơ quan',
      'in.hosts': 'Máy chủ', 'in.systems': 'Hệ thống thông tin', 'in.no_systems': 'không có (máy chủ chưa gán hệ thống)', 'in.alerts': 'Cảnh báo', 'in.title_col': 'Tiêu đề', 'in.all': 'tất cả', 'in.active': 'đang xử lý (chưa báo cáo)',
      'in.st.open': 'mới mở', 'in.st.contained': 'đã ngăn chặn', 'in.st.resolved': 'đã khắc phục', 'in.st.reported': 'đã báo cáo',
      'in.back': '← Sự cố', 'in.facts': 'Sự cố', 'in.severity': 'Mức độ', 'in.assignee': 'Người xử lý',
      'in.nobody': 'chưa giao', 'in.detected': 'Thời điểm phát hiện', 'in.created': 'Thời điểm mở',
      'in.clock': 'Thời hạn báo cáo', 'in.due': 'Hạn', 'in.state': 'Tình trạng', 'in.left': 'Thời gian còn lại', 'in.done_at': 'Thời điểm thực hiện',
      'in.timeline': 'Diễn biến', 'in.actions': 'Xử lý', 'in.move': 'Chuyển sang', 'in.final': 'Đã báo cáo: bước cuối cùng.',
      'in.notify': 'Ghi nhận đã thông báo ban đầu', 'in.notify_note': 'Ghi chú (không bắt buộc): gửi ai, cách nào, số hiệu',
      'in.notified_at': 'Đã ghi nhận thông báo ban đầu lúc {t}.', 'in.add_alert': 'Thêm cảnh báo', 'in.alert_id': 'Mã cảnh báo',
      'in.report': 'Báo cáo để in', 'in.report_vi': 'Báo cáo (tiếng Việt)', 'in.report_en': 'Báo cáo (tiếng Anh)',
      'in.no_alerts': 'Không có cảnh báo.', 'in.older': 'Cũ hơn →', 'in.first': '« Mới nhất',
      'in.new': 'Mở sự cố', 'in.new_title': 'Tiêu đề sự cố', 'in.new_severity': 'Mức độ',
      'in.picked': 'đã chọn {n} cảnh báo', 'in.pick': 'Chọn để mở sự cố', 'in.pick_first': 'Hãy chọn cảnh báo trước',
      'in.created_ok': 'Đã mở sự cố #{id}', 'in.clear': 'Bỏ chọn', 'in.from_alert': 'Mở sự cố từ cảnh báo này',
      'in.title_needed': 'Hãy đặt tiêu đề cho sự cố',
      'clock.notify': 'Thông báo ban đầu', 'clock.report': 'Báo cáo đầy đủ',
      'clock.notify_in': 'thông báo trong {t}', 'clock.report_in': 'báo cáo trong {t}',
      'clock.notify_late': 'thông báo trễ {t}', 'clock.report_late': 'báo cáo trễ {t}',
      'clock.none': 'không có thời hạn', 'clock.pending': 'chưa đến hạn', 'clock.overdue': 'quá hạn', 'clock.met': 'đúng hạn',
      'clock.met_late': 'trễ hạn', 'clock.late': 'trễ {t}',
      'unit.d': '{n} ngày', 'unit.h': '{n} giờ', 'unit.m': '{n} phút', 'unit.s': '{n} giây',
      'tl.created': 'mở sự cố', 'tl.alert': 'thêm cảnh báo', 'tl.status': 'đổi trạng thái',
      'tl.assign': 'giao việc', 'tl.comment': 'ghi chú', 'tl.notified': 'ghi nhận đã thông báo ban đầu',
    },
  };

  function storedLang() {
    try {
      const v = window.localStorage.getItem('vigil.lang');
      if (v === 'vi' || v === 'en') return v;
    } catch (e) { /* storage refused: fall through */ }
    return (navigator.language || '').toLowerCase().startsWith('vi') ? 'vi' : 'en';
  }
  let lang = storedLang();

  function t(key, vars) {
    let s = (I18N[lang] && I18N[lang][key]) || I18N.en[key] || key;
    if (vars) for (const [k, v] of Object.entries(vars)) s = s.split('{' + k + '}').join(String(v));
    return s;
  }

  function setLang(l) {
    lang = l;
    try { window.localStorage.setItem('vigil.lang', l); } catch (e) { /* not remembered */ }
    document.documentElement.lang = l;
    render();
  }

  // ---------------------------------------------------------------------------------------
  // DOM helpers: text only, never HTML
  const SVG_NS = 'http://www.w3.org/2000/svg';

  function addChildren(el, children) {
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
  }

  function setAttrs(el, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') el.setAttribute('class', v);
      else if (k === 'text') el.textContent = String(v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'value') el.value = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    setAttrs(el, attrs);
    addChildren(el, children);
    return el;
  }

  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVG_NS, tag);
    setAttrs(el, attrs);
    addChildren(el, children);
    return el;
  }

  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }

  // Links inside the console only: the hash routes.
  function link(route, ...children) { return h('a', { href: '#' + route }, ...children); }

  // ---------------------------------------------------------------------------------------
  // Time and values
  function parseTime(text) {
    if (!text) return null;
    // Browsers differ on more than three fraction digits: keep milliseconds.
    const d = new Date(String(text).replace(/(\.\d{3})\d+/, '$1'));
    return isNaN(d.getTime()) ? null : d;
  }
  function locale() { return lang === 'vi' ? 'vi-VN' : 'en-GB'; }
  // A text the collector gives in both languages: `key` (English) and `key_vi` where it differs.
  function txt(o, key) {
    if (!o) return '';
    const vi = o[key + '_vi'];
    return asText(lang === 'vi' && vi ? vi : o[key]);
  }
  function fmtTime(text) {
    const d = parseTime(text);
    if (!d || d.getTime() <= 0) return '—';
    return d.toLocaleString(locale(), { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
  }
  function fmtAgo(text) {
    const d = parseTime(text);
    if (!d || d.getTime() <= 0) return '—';
    const secs = Math.round((Date.now() - d.getTime()) / 1000);
    const rtf = new Intl.RelativeTimeFormat(locale(), { numeric: 'auto' });
    if (Math.abs(secs) < 60) return rtf.format(-secs, 'second');
    if (Math.abs(secs) < 3600) return rtf.format(-Math.round(secs / 60), 'minute');
    if (Math.abs(secs) < 86400) return rtf.format(-Math.round(secs / 3600), 'hour');
    return rtf.format(-Math.round(secs / 86400), 'day');
  }
  function rfc3339(date) { return date.toISOString().replace(/\.\d{3}Z$/, 'Z'); }
  function pct(score) { return typeof score === 'number' ? Math.round(score * 1000) / 10 + ' %' : '—'; }
  function scoreClass(score) { return typeof score !== 'number' ? '' : score >= 0.8 ? 'good' : score >= 0.5 ? 'mid' : 'bad'; }
  function get(obj, path) {
    let cur = obj;
    for (const part of path.split('.')) {
      if (cur === null || typeof cur !== 'object') return undefined;
      cur = cur[part];
    }
    return cur;
  }
  function asText(v) {
    if (v === null || v === undefined) return '';
    if (Array.isArray(v) && v.every((x) => x === null || typeof x !== 'object')) return v.join(', ');
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  }
  // "ip:port" ("[ip]:port" for IPv6), the address alone without a port, '' without an address.
  function endpointText(ip, port) {
    const addr = asText(ip);
    if (!addr) return '';
    const p = asText(port);
    if (!p || p === '0') return addr;
    return (addr.includes(':') ? '[' + addr + ']' : addr) + ':' + p;
  }
  // [["a.b", value]] of the leaves of an object; arrays of scalars stay one value.
  function flatten(obj, prefix, out) {
    out = out || [];
    for (const [k, v] of Object.entries(obj || {})) {
      const key = prefix ? prefix + '.' + k : k;
      if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v, key, out);
      else out.push([key, v]);
    }
    return out;
  }

  // The numbers of a dotted version ("0.10.0" → [0, 10, 0]; a suffix such as "-rc1" left out), null without any.
  function versionParts(v) {
    const m = asText(v).trim().replace(/^v/i, '').match(/^\d+(\.\d+)*/);
    return m ? m[0].split('.').map(Number) : null;
  }
  // <0, 0, >0 as version a is older than, the same as or newer than b (missing numbers count 0: 1.2 = 1.2.0).
  function compareVersions(a, b) {
    for (let i = 0; i < Math.max(a.length, b.length); ++i) {
      const d = (a[i] || 0) - (b[i] || 0);
      if (d) return d;
    }
    return 0;
  }
  // Long values stay whole in the tooltip; the table stays readable.
  function shortText(text, max) {
    return text.length > max ? h('span', { title: text }, text.slice(0, max - 1) + '…') : text;
  }

  function sevBadge(n) {
    const sev = Math.min(5, Math.max(1, Number(n) || 1));
    return h('span', { class: 'badge sev-' + sev }, t('sev.' + sev));
  }
  function statusBadge(st) { return h('span', { class: 'st st-' + String(st).replace(/[^a-z_]/g, '') }, t('status.' + st)); }

  // ---------------------------------------------------------------------------------------
  // The API
  let session = null; // {user, role, agencies, csrf}

  class ApiError extends Error {
    constructor(status, message, data) { super(message); this.status = status; this.data = data; }
  }

  async function api(method, path, body) {
    const opts = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    if (method !== 'GET' && session && session.csrf) opts.headers['X-CSRF-Token'] = session.csrf;
    const resp = await fetch(path, opts);
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    if (resp.status === 401 && path !== '/api/v1/login') {
      session = null;
      render();
      throw new ApiError(401, (data && data.error) || 'not signed in');
    }
    if (!resp.ok) throw new ApiError(resp.status, (data && data.error) || resp.statusText || String(resp.status), data);
    return data;
  }

  function qs(params) {
    const parts = [];
    for (const [k, v] of Object.entries(params)) {
      if (v === undefined || v === null || v === '') continue;
      parts.push(encodeURIComponent(k) + '=' + encodeURIComponent(v));
    }
    return parts.length ? '?' + parts.join('&') : '';
  }

  // A path segment of the hash route as it was before encodeURIComponent (a broken escape as it is).
  function decoded(segment) {
    try { return decodeURIComponent(segment); } catch (e) { return segment; }
  }

  // ---------------------------------------------------------------------------------------
  // Page frame
  const top = () => document.getElementById('top');
  const main = () => document.getElementById('main');
  let renderToken = 0; // a newer render makes an older one's late answers moot
  let keyHandler = null;
  let countdowns = []; // redraws of the live deadlines on the page, every second

  function toast(text, isError) {
    const old = document.querySelector('.toast');
    if (old) old.remove();
    const el = h('div', { class: 'toast' + (isError ? ' error' : ''), role: 'status', id: 'toast' }, text);
    document.body.appendChild(el);
    setTimeout(() => el.remove(), 2500);
  }

  function langButton() {
    return h('button', { type: 'button', id: 'lang-toggle', class: 'btn', title: t('lang.label'),
      onclick: () => setLang(lang === 'vi' ? 'en' : 'vi') }, t('lang.switch'));
  }

  function route() {
    const raw = (location.hash || '').replace(/^#/, '') || '/overview';
    const q = raw.indexOf('?');
    const path = q < 0 ? raw : raw.slice(0, q);
    const params = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
    return { path, params };
  }

  function drawTop(current) {
    const el = top();
    clear(el);
    if (!session) return;
    const nav = h('nav', { 'aria-label': 'main' });
    for (const [path, key] of [['/overview', 'nav.overview'], ['/alerts', 'nav.alerts'], ['/incidents', 'nav.incidents'], ['/events', 'nav.events'],
      ['/agents', 'nav.agents'], ['/systems', 'nav.systems'], ['/groups', 'nav.groups'], ['/compliance', 'nav.compliance']]) {
      const a = link(path, t(key));
      a.id = 'nav-' + path.slice(1);
      if (current.startsWith(path)) a.classList.add('current');
      nav.appendChild(a);
    }
    el.appendChild(h('div', { class: 'bar' },
      h('a', { class: 'brand', href: '#/overview' }, 'Vigil'),
      nav,
      h('span', { class: 'who', id: 'who' }, session.user + ' · ' + session.role),
      langButton(),
      h('button', { type: 'button', id: 'logout', class: 'btn', onclick: logout }, t('logout'))));
  }

  async function logout() {
    try { await api('POST', '/api/v1/logout'); } catch (e) { /* the session is gone either way */ }
    session = null;
    location.hash = '#/overview';
    render();
  }

  function render() {
    const token = ++renderToken;
    keyHandler = null;
    countdowns = [];
    document.title = t('app.title');
    const { path, params } = route();
    if (!session) {
      drawTop('');
      return drawLogin();
    }
    drawTop(path);
    const m = main();
    clear(m);
    m.appendChild(h('p', { class: 'loading' }, t('loading')));
    const alive = () => token === renderToken;
    let page;
    const detail = path.match(/^\/alerts\/(\d+)$/);
    const group = path.match(/^\/groups\/([^/]+)$/);
    const incident = path.match(/^\/incidents\/(\d+)$/);
    const system = path.match(/^\/systems\/([^/]+)$/);
    if (detail) page = pageAlert(detail[1], alive);
    else if (incident) page = pageIncident(incident[1], alive);
    else if (path === '/incidents') page = pageIncidents(params, alive);
    else if (group) page = pageGroup(decoded(group[1]), alive);
    else if (system) page = pageSystem(decoded(system[1]), alive);
    else if (path === '/systems') page = pageSystems(alive);
    else if (path === '/alerts') page = pageAlerts(params, alive);
    else if (path === '/events') page = pageEvents(params, alive);
    else if (path === '/agents') page = pageAgents(alive);
    else if (path === '/groups') page = pageGroups(alive);
    else if (path === '/compliance') page = pageCompliance(params, alive);
    else page = pageOverview(alive);
    Promise.resolve(page).catch((e) => {
      if (!alive() || (e && e.status === 401)) return;
      clear(m);
      m.appendChild(h('p', { class: 'notice error', id: 'page-error' }, t('error.load') + ': ' + (e && e.message)));
    });
  }

  function show(alive, ...children) {
    if (!alive()) return false;
    const m = main();
    clear(m);
    addChildren(m, children);
    // Keys go to the page, not to a control left focused by the previous one.
    if (!m.contains(document.activeElement)) m.focus({ preventScroll: true });
    return true;
  }

  // ---------------------------------------------------------------------------------------
  // Login
  function drawLogin() {
    const m = main();
    clear(m);
    const msg = h('p', { class: 'error', id: 'login-error', role: 'alert' });
    const user = h('input', { id: 'login-user', name: 'user', autocomplete: 'username', required: true, autofocus: true });
    const pass = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
    const form = h('form', { id: 'login-form', class: 'panel login', method: 'post', action: '/' },
      h('h1', {}, t('login.title')),
      h('label', { for: 'login-user' }, t('login.user')), user,
      h('label', { for: 'login-password' }, t('login.password')), pass,
      msg,
      h('button', { type: 'submit', id: 'login-submit', class: 'btn primary' }, t('login.submit')),
      h('div', { class: 'langs' }, langButton()));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      msg.textContent = '';
      try {
        const r = await api('POST', '/api/v1/login', { user: user.value, password: pass.value });
        session = { user: r.user, role: r.role, agencies: r.agencies || [], csrf: r.csrf_token };
        if (!location.hash || location.hash === '#' || location.hash === '#/login') location.hash = '#/overview';
        render();
      } catch (e) {
        msg.textContent = t('login.failed') + ': ' + e.message;
        pass.value = '';
        pass.focus();
      }
    });
    m.appendChild(form);
    user.focus();
  }

  // ---------------------------------------------------------------------------------------
  // Charts (SVG, drawn here)
  const DAY_MS = 86400000;

  function dayKeys(days) {
    const out = [];
    const today = new Date();
    today.setHours(0, 0, 0, 0);
    for (let i = days - 1; i >= 0; --i) out.push(new Date(today.getTime() - i * DAY_MS));
    return out;
  }
  function dayIndex(days, date) {
    const d = new Date(date.getTime());
    d.setHours(0, 0, 0, 0);
    for (let i = 0; i < days.length; ++i) if (days[i].getTime() === d.getTime()) return i;
    return -1;
  }

  // series: [{label, cls, values: [per day]}], stacked.
  function stackedBars(days, series, id) {
    const W = 640, H = 240, L = 36, R = 10, T = 12, B = 28;
    const totals = days.map((_, i) => series.reduce((a, sr) => a + sr.values[i], 0));
    const max = Math.max(1, ...totals);
    const step = niceStep(max);
    const top = Math.ceil(max / step) * step;
    const y = (v) => T + (H - T - B) * (1 - v / top);
    const bw = (W - L - R) / days.length;
    const g = s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', id });
    for (let v = 0; v <= top; v += step) {
      g.appendChild(s('line', { class: 'grid-line', x1: L, x2: W - R, y1: y(v), y2: y(v) }));
      g.appendChild(s('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end' }, String(v)));
    }
    days.forEach((d, i) => {
      let acc = 0;
      for (const sr of series) {
        const v = sr.values[i];
        if (!v) continue;
        const rect = s('rect', { class: sr.cls, x: L + i * bw + 2, width: Math.max(1, bw - 4), y: y(acc + v), height: y(acc) - y(acc + v) });
        rect.appendChild(s('title', {}, `${sr.label}: ${v}`));
        g.appendChild(rect);
        acc += v;
      }
      if (i % Math.ceil(days.length / 7) === 0 || i === days.length - 1) {
        g.appendChild(s('text', { x: L + i * bw + bw / 2, y: H - 8, 'text-anchor': 'middle' },
          d.toLocaleDateString(locale(), { day: '2-digit', month: '2-digit' })));
      }
    });
    g.appendChild(s('line', { class: 'axis', x1: L, x2: W - R, y1: y(0), y2: y(0) }));
    const legend = h('div', { class: 'legend' }, series.map((sr) =>
      h('span', {}, h('span', { class: 'swatch ' + sr.cls }), sr.label)));
    return h('div', {}, g, legend);
  }

  function niceStep(max) {
    const rough = max / 4;
    const pow = Math.pow(10, Math.floor(Math.log10(Math.max(rough, 1))));
    for (const m of [1, 2, 5, 10]) if (pow * m >= rough) return Math.max(1, pow * m);
    return Math.max(1, pow * 10);
  }

  // rows: [{label, score (0..1 or null)}]: horizontal bars.
  function scoreBars(rows, id) {
    const W = 640, rowH = 26, L = 160, R = 60;
    const H = Math.max(1, rows.length) * rowH + 8;
    const g = s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', id });
    rows.forEach((r, i) => {
      const yy = 4 + i * rowH;
      const label = r.label.length > 24 ? r.label.slice(0, 23) + '…' : r.label;
      g.appendChild(s('text', { x: L - 8, y: yy + 16, 'text-anchor': 'end', class: 'bar-label' }, label));
      g.appendChild(s('rect', { class: 'score-track', x: L, y: yy + 4, width: W - L - R, height: rowH - 10, rx: 3 }));
      if (typeof r.score === 'number') {
        const bar = s('rect', { class: 'score-' + scoreClass(r.score), x: L, y: yy + 4, width: Math.max(1, (W - L - R) * r.score), height: rowH - 10, rx: 3 });
        bar.appendChild(s('title', {}, `${r.label}: ${pct(r.score)}`));
        g.appendChild(bar);
      }
      g.appendChild(s('text', { x: W - R + 6, y: yy + 16, class: 'bar-label' }, typeof r.score === 'number' ? pct(r.score) : '—'));
    });
    return g;
  }

  // points: [{label, value (0..1)}]: a line, for compliance trends.
  function lineChart(points, id) {
    const W = 640, H = 180, L = 40, R = 12, T = 12, B = 28;
    const g = s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', id });
    const y = (v) => T + (H - T - B) * (1 - v);
    const x = (i) => L + (points.length < 2 ? (W - L - R) / 2 : i * (W - L - R) / (points.length - 1));
    for (const v of [0, 0.5, 1]) {
      g.appendChild(s('line', { class: 'grid-line', x1: L, x2: W - R, y1: y(v), y2: y(v) }));
      g.appendChild(s('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end' }, Math.round(v * 100) + '%'));
    }
    const d = points.map((p, i) => (i ? 'L' : 'M') + x(i).toFixed(1) + ' ' + y(p.value).toFixed(1)).join(' ');
    if (points.length) g.appendChild(s('path', { class: 'line', d }));
    points.forEach((p, i) => {
      const c = s('circle', { cx: x(i), cy: y(p.value), r: 3.5, class: 'c0' });
      c.appendChild(s('title', {}, `${p.label}: ${pct(p.value)}`));
      g.appendChild(c);
      const anchor = points.length > 1 && i === 0 ? 'start' : points.length > 1 && i === points.length - 1 ? 'end' : 'middle';
      g.appendChild(s('text', { x: x(i), y: H - 8, 'text-anchor': anchor }, p.label));
    });
    return g;
  }

  // ---------------------------------------------------------------------------------------
  // Overview
  const SILENT_MS = 90 * 1000; // three missed heartbeats, as the collector counts them

  function agentState(a) {
    if (a.status === 'revoked') return 'revoked';
    const seen = parseTime(a.last_seen);
    return seen && Date.now() - seen.getTime() <= SILENT_MS ? 'online' : 'silent';
  }

  async function fetchAlertsSince(from, maxPages) {
    const out = [];
    let before = '';
    for (let i = 0; i < maxPages; ++i) {
      const page = await api('GET', '/api/v1/alerts' + qs({ from: rfc3339(from), limit: 1000, before }));
      out.push(...page);
      if (page.length < 1000) return { alerts: out, truncated: false };
      before = page[page.length - 1].id;
    }
    return { alerts: out, truncated: true };
  }

  async function pageOverview(alive) {
    const days = dayKeys(14);
    const [status, agents, comp, recent] = await Promise.all([
      api('GET', '/api/v1/status'), api('GET', '/api/v1/agents'), api('GET', '/api/v1/compliance'),
      fetchAlertsSince(days[0], 5)]);
    const states = { online: 0, silent: 0, revoked: 0 };
    for (const a of agents) states[agentState(a)]++;
    const bySev = [1, 2, 3, 4, 5].map((sev) => ({ label: t('sev.' + sev), cls: 'sev-' + sev, values: days.map(() => 0) }));
    const agencies = [...new Set(recent.alerts.map((a) => a.agency || '?'))].sort();
    const byAgency = agencies.map((name, i) => ({ label: name, cls: 'c' + (i % 8), values: days.map(() => 0) }));
    for (const a of recent.alerts) {
      const d = parseTime(a.time);
      if (!d) continue;
      const i = dayIndex(days, d);
      if (i < 0) continue;
      const sev = Math.min(5, Math.max(1, a.severity || 1));
      bySev[sev - 1].values[i]++;
      byAgency[agencies.indexOf(a.agency || '?')].values[i]++;
    }
    const silent = agents.filter((a) => agentState(a) === 'silent');
    const card = (label, value, cls, id) => h('div', { class: 'card ' + (cls || ''), id }, h('div', { class: 'value' }, String(value)), h('div', { class: 'label' }, label));
    show(alive,
      h('h1', {}, t('ov.title')),
      h('div', { class: 'cards' },
        card(t('ov.agents'), agents.length, '', 'card-agents'),
        card(t('ov.online'), states.online, 'ok', 'card-online'),
        card(t('ov.silent'), states.silent, states.silent ? 'bad' : '', 'card-silent'),
        card(t('ov.revoked'), states.revoked, '', 'card-revoked'),
        h('a', { href: '#/alerts?status=new', class: 'card ' + (status.alerts_new ? 'bad' : ''), id: 'card-new' },
          h('div', { class: 'value' }, String(status.alerts_new)), h('div', { class: 'label' }, t('ov.new_alerts'))),
        card(t('ov.alerts_14d'), recent.alerts.length, '', 'card-14d')),
      recent.truncated ? h('p', { class: 'notice' }, t('ov.truncated', { n: recent.alerts.length })) : null,
      h('div', { class: 'grid' },
        h('section', { class: 'panel' }, h('h2', {}, t('ov.by_severity')), stackedBars(days, bySev.slice().reverse(), 'chart-severity')),
        h('section', { class: 'panel' }, h('h2', {}, t('ov.by_agency')), stackedBars(days, byAgency, 'chart-agency')),
        h('section', { class: 'panel' }, h('h2', {}, t('ov.compliance')),
          comp.length ? scoreBars(comp.map((c) => ({ label: c.agency, score: c.score })), 'chart-compliance') : h('p', { class: 'muted' }, t('none'))),
        h('section', { class: 'panel' }, h('h2', {}, t('ov.silent_list')),
          silent.length ? table([t('ag.id'), t('ag.host'), t('ag.agency'), t('ag.last_seen')],
            silent.map((a) => [a.id, a.host, a.agency, fmtAgo(a.last_seen)])) : h('p', { class: 'muted' }, t('none')))));
  }

  function table(headers, rows, attrs) {
    return h('div', { class: 'wrap' }, h('table', attrs || {},
      h('thead', {}, h('tr', {}, headers.map((x) => h('th', {}, x)))),
      h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c)))))));
  }

  // ---------------------------------------------------------------------------------------
  // Alerts list
  const FILTERS = ['severity', 'status', 'agency', 'agent', 'rule', 'from', 'to'];
  let cursorStack = []; // `before` ids of the pages above the current one
  const picked = new Map(); // alert id → severity: the alerts chosen for a new incident (kept across pages)
  let lastFilterKey = '';

  async function setStatus(id, status) {
    await api('POST', `/api/v1/alerts/${encodeURIComponent(id)}/status`, { status });
  }

  function localInput(value) {
    // RFC 3339 → the value of a datetime-local input, in local time.
    const d = parseTime(value);
    if (!d) return '';
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
  }

  async function pageAlerts(params, alive) {
    const filter = {};
    for (const k of FILTERS) if (params.get(k)) filter[k] = params.get(k);
    const key = JSON.stringify(filter);
    if (key !== lastFilterKey) { cursorStack = []; lastFilterKey = key; }
    const before = params.get('before') || '';
    const limit = 50;
    const [agencies, list] = await Promise.all([
      api('GET', '/api/v1/agencies'),
      api('GET', '/api/v1/alerts' + qs(Object.assign({}, filter, { before, limit })))]);

    const sel = (id, name, options, value) => h('select', { id, name },
      options.map(([v, label]) => { const o = h('option', { value: v }, label); if (v === (value || '')) o.selected = true; return o; }));
    const inp = (id, name, value, type) => h('input', { id, name, type: type || 'text', value: value || '' });
    const form = h('form', { class: 'filters panel', id: 'alert-filters' },
      h('label', {}, t('al.severity'), sel('f-severity', 'severity', [['', t('al.any')], ...[1, 2, 3, 4, 5].map((n) => [String(n), t('sev.' + n)])], filter.severity)),
      h('label', {}, t('al.status'), sel('f-status', 'status', [['', t('al.any')], ...['new', 'acknowledged', 'resolved', 'false_positive'].map((x) => [x, t('status.' + x)])], filter.status)),
      h('label', {}, t('al.agency'), sel('f-agency', 'agency', [['', t('al.any')], ...agencies.map((a) => [a.name, a.name])], filter.agency)),
      h('label', {}, t('al.agent'), inp('f-agent', 'agent', filter.agent)),
      h('label', {}, t('al.rule'), inp('f-rule', 'rule', filter.rule)),
      h('label', {}, t('al.from'), inp('f-from', 'from', localInput(filter.from), 'datetime-local')),
      h('label', {}, t('al.to'), inp('f-to', 'to', localInput(filter.to), 'datetime-local')),
      h('button', { type: 'submit', class: 'btn primary', id: 'f-apply' }, t('al.apply')),
      h('button', { type: 'button', class: 'btn', id: 'f-reset', onclick: () => { location.hash = '#/alerts'; } }, t('al.reset')));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const f = {};
      for (const k of FILTERS) {
        let v = form.elements[k].value.trim();
        if ((k === 'from' || k === 'to') && v) {
          const d = new Date(v);
          v = isNaN(d.getTime()) ? '' : rfc3339(d);
        }
        if (v) f[k] = v;
      }
      location.hash = '#/alerts' + qs(f);
    });

    let selected = Math.min(Number(sessionStorage.getItem('vigil.alerts.selected') || 0), Math.max(0, list.length - 1));
    // Non-auditors pick alerts with the boxes of the first column and open an incident from them.
    const canChange = session.role !== 'auditor';
    let create = null;
    const pickedCount = h('span', { id: 'incident-picked', class: 'muted' });
    const maxPicked = () => Math.max(1, ...picked.values());
    let severityTouched = false;
    function updatePicked() {
      pickedCount.textContent = t('in.picked', { n: picked.size });
      pickedCount.setAttribute('data-count', String(picked.size));
      if (create) {
        create.form.classList.toggle('idle', picked.size === 0);
        if (!severityTouched) create.sevSelect.value = String(maxPicked());
      }
    }
    const pickBox = (a) => {
      const box = h('input', { type: 'checkbox', class: 'pick', 'data-id': a.id, 'aria-label': t('in.pick') + ' #' + a.id });
      box.checked = picked.has(a.id);
      box.addEventListener('change', () => {
        if (box.checked) picked.set(a.id, Number(a.severity) || 1); else picked.delete(a.id);
        updatePicked();
      });
      box.addEventListener('dblclick', (ev) => ev.stopPropagation());
      return h('td', { class: 'pick-cell' }, box);
    };
    const rows = list.map((a, i) => {
      const tr = h('tr', { class: 'row', 'data-id': a.id, id: 'alert-row-' + a.id, tabindex: '-1' },
        canChange ? pickBox(a) : null,
        h('td', { class: 'num' }, String(a.id)),
        h('td', {}, fmtTime(a.time)),
        h('td', {}, sevBadge(a.severity)),
        h('td', {}, h('div', {}, txt(a, 'rule_name')), h('div', { class: 'muted mono' }, a.rule_id)),
        h('td', {}, a.agency),
        h('td', {}, h('div', {}, a.host), h('div', { class: 'muted mono' }, a.agent_id)),
        h('td', { class: 'mono source-cell' }, endpointText(a.source_ip || get(a.evidence, 'source.ip'), a.source_ip ? a.source_port : get(a.evidence, 'source.port'))),
        h('td', { class: 'user-cell' }, asText(a.user_name || get(a.evidence, 'user.name'))),
        h('td', { class: 'mono destination-cell' }, endpointText(a.destination_ip || get(a.evidence, 'destination.ip'), a.destination_ip ? a.destination_port : get(a.evidence, 'destination.port'))),
        h('td', { class: 'status-cell' }, statusBadge(a.status)),
        h('td', {}, a.assignee || ''));
      tr.addEventListener('click', () => { select(i); });
      tr.addEventListener('dblclick', () => { location.hash = '#/alerts/' + a.id; });
      return tr;
    });
    function select(i) {
      if (!rows.length) return;
      selected = Math.max(0, Math.min(rows.length - 1, i));
      sessionStorage.setItem('vigil.alerts.selected', String(selected));
      rows.forEach((r, j) => r.classList.toggle('selected', j === selected));
      rows[selected].focus({ preventScroll: false });
    }
    async function triage(status) {
      if (!rows.length) return toast(t('act.select'), true);
      const a = list[selected];
      try {
        await setStatus(a.id, status);
        a.status = status;
        const cell = rows[selected].querySelector('.status-cell');
        clear(cell);
        cell.appendChild(statusBadge(status));
        toast(t('act.done') + ': #' + a.id + ' → ' + t('status.' + status));
      } catch (e) {
        toast(e.message, true);
      }
    }
    const pageNo = cursorStack.length + 1;
    function older() {
      if (list.length < limit) return;
      cursorStack.push(before);
      sessionStorage.setItem('vigil.alerts.selected', '0');
      location.hash = '#/alerts' + qs(Object.assign({}, filter, { before: list[list.length - 1].id }));
    }
    function newer() {
      if (!cursorStack.length) return;
      const prev = cursorStack.pop();
      sessionStorage.setItem('vigil.alerts.selected', '0');
      location.hash = '#/alerts' + qs(Object.assign({}, filter, { before: prev }));
    }
    const toolbar = h('div', { class: 'toolbar' },
      h('button', { type: 'button', class: 'btn', id: 'btn-ack', onclick: () => triage('acknowledged') }, t('act.ack')),
      h('button', { type: 'button', class: 'btn', id: 'btn-resolve', onclick: () => triage('resolved') }, t('act.resolve')),
      h('button', { type: 'button', class: 'btn', id: 'btn-fp', onclick: () => triage('false_positive') }, t('act.fp')),
      h('span', { class: 'muted' }, t('al.keys')),
      h('span', { class: 'spacer' }),
      h('button', { type: 'button', class: 'btn', id: 'page-newer', disabled: !cursorStack.length, onclick: newer }, t('al.newer')),
      h('span', { id: 'page-no' }, t('al.page', { n: pageNo })),
      h('button', { type: 'button', class: 'btn', id: 'page-older', disabled: list.length < limit, onclick: older }, t('al.older')));
    if (canChange) {
      create = incidentForm(() => [...picked.keys()], '', maxPicked());
      create.sevSelect.addEventListener('change', () => { severityTouched = true; });
      create.form.appendChild(pickedCount);
      create.form.appendChild(h('button', { type: 'button', class: 'btn', id: 'incident-clear',
        onclick: () => { picked.clear(); for (const b of document.querySelectorAll('#alerts-table input.pick')) b.checked = false; updatePicked(); } }, t('in.clear')));
      create = Object.assign(create, { panel: h('section', { class: 'panel', id: 'incident-create-panel' }, create.form, create.msg) });
      updatePicked();
    }
    const tbl = h('div', { class: 'wrap panel' }, h('table', { id: 'alerts-table' },
      h('thead', {}, h('tr', {}, canChange ? h('th', { class: 'pick-cell', title: t('in.pick') }, '') : null, [t('al.id'), t('al.time'), t('al.sev_col'), t('al.rule'), t('al.agency'), t('al.host'),
        t('al.source'), t('det.user'), t('det.destination'), t('al.status'), t('al.assignee')].map((x) => h('th', {}, x)))),
      h('tbody', {}, rows)));
    if (!show(alive, h('h1', {}, t('al.title')), form, create && create.panel, toolbar, tbl, list.length ? null : h('p', { class: 'muted', id: 'alerts-empty' }, t('none')))) return;
    if (rows.length) {
      rows.forEach((r, j) => r.classList.toggle('selected', j === selected));
    }
    keyHandler = (ev) => {
      switch (ev.key) {
        case 'j': case 'ArrowDown': select(selected + 1); return true;
        case 'k': case 'ArrowUp': select(selected - 1); return true;
        case 'Enter': case 'o': if (rows.length) location.hash = '#/alerts/' + list[selected].id; return true;
        case 'a': triage('acknowledged'); return true;
        case 'r': triage('resolved'); return true;
        case 'f': triage('false_positive'); return true;
        case 'n': triage('new'); return true;
        case ']': older(); return true;
        case '[': newer(); return true;
        default: return false;
      }
    };
  }

  // ---------------------------------------------------------------------------------------
  // Alert detail
  async function pageAlert(id, alive) {
    const a = await api('GET', '/api/v1/alerts/' + encodeURIComponent(id));
    const ev = a.evidence || {};
    const rule = ev.rule || {};
    async function change(kind, body, okText) {
      try {
        await api('POST', `/api/v1/alerts/${encodeURIComponent(id)}/${kind}`, body);
        toast(okText || t('act.done'));
        render();
      } catch (e) {
        toast(e.message, true);
      }
    }
    const canChange = session.role !== 'auditor';
    const assignInput = h('input', { id: 'assign-input', placeholder: t('act.assign_to'), value: a.assignee || '', 'aria-label': t('act.assign_to') });
    const commentInput = h('textarea', { id: 'comment-input', placeholder: t('act.comment_text'), 'aria-label': t('act.comment_text') });
    const triage = h('section', { class: 'panel' }, h('h2', {}, t('det.triage')),
      h('div', { class: 'triage' },
        h('button', { type: 'button', class: 'btn', id: 'btn-ack', disabled: !canChange, onclick: () => change('status', { status: 'acknowledged' }) }, t('act.ack')),
        h('button', { type: 'button', class: 'btn', id: 'btn-resolve', disabled: !canChange, onclick: () => change('status', { status: 'resolved' }) }, t('act.resolve')),
        h('button', { type: 'button', class: 'btn', id: 'btn-fp', disabled: !canChange, onclick: () => change('status', { status: 'false_positive' }) }, t('act.fp')),
        h('button', { type: 'button', class: 'btn', id: 'btn-reopen', disabled: !canChange, onclick: () => change('status', { status: 'new' }) }, t('act.reopen')),
        assignInput,
        h('button', { type: 'button', class: 'btn', id: 'btn-assign', disabled: !canChange, onclick: () => change('assign', { assignee: assignInput.value.trim() }) }, t('act.assign'))),
      h('div', { class: 'comment-box' }, commentInput,
        h('button', { type: 'button', class: 'btn', id: 'btn-comment', disabled: !canChange,
          onclick: () => { if (commentInput.value.trim()) change('comment', { text: commentInput.value.trim() }); } }, t('act.comment'))));
    if (canChange) {
      const create = incidentForm(() => [a.id], txt(a, 'rule_name'), Math.min(5, Math.max(1, Number(a.severity) || 1)));
      triage.appendChild(h('div', { id: 'incident-create-panel' }, h('h3', {}, t('in.from_alert')), create.form, create.msg));
    }

    const fact = (label, value) => (value === undefined || value === null || value === '') ? null : [h('dt', {}, label), h('dd', {}, value)];
    const endpoint = (side) => {
      if (a[side + '_ip']) return endpointText(a[side + '_ip'], a[side + '_port']);
      return endpointText(get(ev, side + '.ip'), get(ev, side + '.port')) || null;
    };
    const facts = h('section', { class: 'panel' }, h('h2', {}, t('det.facts')),
      h('dl', { class: 'facts', id: 'alert-facts' },
        fact(t('al.time'), fmtTime(a.time)),
        fact(t('al.agency'), a.agency),
        fact(t('al.agent'), a.agent_id),
        fact(t('al.host'), a.host),
        fact(t('al.source'), endpoint('source')),
        fact(t('det.destination'), endpoint('destination')),
        fact(t('det.user'), asText(a.user_name || get(ev, 'user.name'))),
        fact(t('det.url'), asText(get(ev, 'url.domain'))),
        fact(t('al.assignee'), a.assignee)));
    const technique = get(ev, 'threat.technique.id');
    const ruleBox = h('section', { class: 'panel', id: 'alert-rule' }, h('h2', {}, t('det.rule')),
      h('dl', { class: 'facts' },
        fact('ID', a.rule_id),
        fact(t('al.rule'), txt(a, 'rule_name')),
        fact(t('det.description'), asText(rule.description)),
        fact(t('det.technique'), technique === undefined ? null : asText(technique)),
        fact(t('det.tags'), Array.isArray(get(ev, 'tags')) ? ev.tags.join(', ') : (Array.isArray(rule.tags) ? rule.tags.join(', ') : null)),
        fact(t('det.author'), asText(rule.author)),
        fact(t('det.license'), asText(rule.license))),
      h('p', {}, link('/alerts?rule=' + encodeURIComponent(a.rule_id), t('nav.alerts') + ': ' + a.rule_id)));

    const events = get(ev, 'vigil.evidence.events');
    const eventsBox = Array.isArray(events) && events.length ? h('section', { class: 'panel', id: 'evidence-events' },
      h('h2', {}, t('det.events') + ' (' + events.length + ')'),
      events.map((e, i) => h('div', {},
        h('h3', {}, '#' + (i + 1) + ' ' + asText(get(e, 'event.dataset')) + ' · ' + fmtTime(get(e, '@timestamp'))),
        table([t('det.field'), t('det.value')], flatten(e).map(([k, v]) => [h('span', { class: 'mono' }, k), h('span', { class: 'mono' }, asText(v))]))))) : null;

    // Pivots into the events around the alert: what its source did, what happened on its host.
    const at = parseTime(a.time);
    const around = (q, ms) => '/events' + qs({ q, since: rfc3339(new Date(at.getTime() - ms)), until: rfc3339(new Date(at.getTime() + ms)) });
    const pivots = at ? h('section', { class: 'panel', id: 'alert-pivots' }, h('h2', {}, t('det.pivots')),
      h('ul', { class: 'pivots' },
        a.source_ip ? h('li', {}, h('a', { href: '#' + around('source.ip:' + a.source_ip, 3600000), id: 'pivot-source' }, t('det.pivot_source')),
          ' ', h('span', { class: 'mono muted' }, a.source_ip)) : null,
        a.host ? h('li', {}, h('a', { href: '#' + around('host.name:' + quoteValue(a.host), 900000), id: 'pivot-host' }, t('det.pivot_host')),
          ' ', h('span', { class: 'mono muted' }, a.host)) : null)) : null;

    const history = Array.isArray(a.history) ? a.history : [];
    const historyBox = h('section', { class: 'panel' }, h('h2', {}, t('det.history')),
      history.length ? table([t('al.time'), t('det.who'), t('det.action'), t('det.value')],
        history.map((x) => [fmtTime(x.time), x.who, x.action, x.action === 'status' ? t('status.' + x.value) : x.value]), { id: 'alert-history' })
        : h('p', { class: 'muted', id: 'alert-history-empty' }, t('det.no_history')));

    const raw = h('section', { class: 'panel' }, h('h2', {}, t('det.raw')),
      h('pre', { class: 'json', id: 'evidence-json' }, JSON.stringify(ev, null, 2)));

    if (!show(alive,
      h('p', {}, link('/alerts', t('det.back'))),
      h('div', { class: 'detail-head' }, h('h1', { id: 'alert-title' }, '#' + a.id + ' ' + txt(a, 'rule_name')), sevBadge(a.severity), h('span', { id: 'alert-status' }, statusBadge(a.status))),
      h('div', { class: 'grid' }, facts, ruleBox),
      pivots,
      h('div', { class: 'grid' }, triage, historyBox),
      eventsBox, raw)) return;
    keyHandler = (e) => {
      if (!canChange && 'arfn'.includes(e.key)) return false;
      switch (e.key) {
        case 'a': change('status', { status: 'acknowledged' }); return true;
        case 'r': change('status', { status: 'resolved' }); return true;
        case 'f': change('status', { status: 'false_positive' }); return true;
        case 'n': change('status', { status: 'new' }); return true;
        case 's': assignInput.focus(); assignInput.select(); return true;
        case 'c': commentInput.focus(); return true;
        case 'Escape': case 'Backspace': case 'u': location.hash = '#/alerts'; return true;
        default: return false;
      }
    };
  }

  // ---------------------------------------------------------------------------------------
  // Incidents: alerts gathered into one case, worked forward open → contained → resolved →
  // reported, with the reporting clock (first notification, full report) counted from detection.
  const INCIDENT_STATUSES = ['open', 'contained', 'resolved', 'reported'];
  const CLOCKS = ['notify', 'report'];
  let incidentNotice = null; // {id, text}: a refusal to show on the incident's page once it is drawn again
  // A quarter-second beat: each second's change shows when it comes, whatever the phase of the timer.
  setInterval(() => { for (const draw of countdowns) draw(); }, 250);

  function incidentBadge(st) {
    return h('span', { class: 'st inc-' + String(st).replace(/[^a-z_]/g, ''), 'data-status': st }, t('in.st.' + st));
  }

  // "5h 12m 3s" / "5 giờ 12 phút 3 giây"; days when there are any.
  function fmtDuration(secs) {
    secs = Math.max(0, Math.floor(secs));
    const d = Math.floor(secs / 86400), hh = Math.floor((secs % 86400) / 3600), mm = Math.floor((secs % 3600) / 60);
    const parts = [];
    if (d) parts.push(t('unit.d', { n: d }));
    if (d || hh) parts.push(t('unit.h', { n: hh }));
    parts.push(t('unit.m', { n: mm }), t('unit.s', { n: secs % 60 }));
    return parts.join(' ');
  }

  // When a deadline falls in this browser's time: from the seconds the collector counted when it
  // answered (the two machines' clocks may differ), else from its due time.
  function clockEnd(c, fetched) {
    if (typeof c.seconds_left === 'number') return fetched + c.seconds_left * 1000;
    const d = parseTime(c.due);
    return d ? d.getTime() : null;
  }

  // One deadline as a live line: "notify in 5h 12m 3s", a red "overdue" once past, "met" when done
  // in time. Bare (the clock table, whose rows and columns name the rest): the time left or late
  // alone, and `state` (an element) kept as the state's badge. Redrawn every second while it runs.
  function deadlineLine(kind, c, fetched, bare, stateEl) {
    c = c || {};
    const el = h('span', { class: 'deadline', 'data-kind': kind });
    const end = clockEnd(c, fetched);
    let drawn = '';
    const draw = () => {
      const left = end === null ? null : Math.floor((end - Date.now()) / 1000);
      let state = c.state || 'none';
      if (state === 'pending' && left !== null && left < 0) state = 'overdue';
      const key = [state, left, lang].join(' ');
      if (key === drawn) return;
      drawn = key;
      el.className = 'deadline ' + state;
      el.setAttribute('data-state', state);
      if (left === null || state !== 'pending') el.removeAttribute('data-seconds-left');
      else el.setAttribute('data-seconds-left', String(left));
      clear(el);
      if (stateEl) {
        clear(stateEl);
        stateEl.appendChild(h('span', { class: 'st st-' + state, 'data-state': state }, t('clock.' + state)));
      }
      const running = state === 'pending' || state === 'overdue';
      if (bare) {
        if (!running || left === null) addChildren(el, ['—']);
        else addChildren(el, [state === 'pending' ? fmtDuration(left) : t('clock.late', { t: fmtDuration(-left) })]);
      } else if (state === 'pending') {
        addChildren(el, [t('clock.' + kind + '_in', { t: fmtDuration(left) })]);
      } else if (state === 'overdue') {
        addChildren(el, [h('span', { class: 'st st-overdue' }, t('clock.overdue')), ' ',
          left === null ? t('clock.' + kind) : t('clock.' + kind + '_late', { t: fmtDuration(-left) })]);
      } else if (state === 'met' || state === 'met_late') {
        addChildren(el, [t('clock.' + kind) + ': ', h('span', { class: 'st st-' + state }, t('clock.' + state))]);
      } else {
        addChildren(el, [h('span', { class: 'muted' }, t('clock.' + kind) + ': ' + t('clock.none'))]);
      }
    };
    draw();
    if (c.state === 'pending' || c.state === 'overdue') countdowns.push(draw);
    return el;
  }

  function clockOverdue(clock) { return CLOCKS.some((k) => get(clock, k + '.state') === 'overdue'); }

  // The form that opens an incident from alerts (the alerts page's selection, an alert's view).
  function incidentForm(alertIds, title, severity) {
    const titleInput = h('input', { id: 'incident-new-title', name: 'title', maxlength: '200', value: title || '', autocomplete: 'off' });
    const sevSelect = h('select', { id: 'incident-new-severity', name: 'severity' },
      [5, 4, 3, 2, 1].map((n) => { const o = h('option', { value: String(n) }, t('sev.' + n)); if (n === severity) o.selected = true; return o; }));
    const msg = h('p', { class: 'error', id: 'incident-create-error', role: 'alert' });
    const form = h('form', { class: 'incident-create', id: 'incident-create-form' },
      h('label', { class: 'wide' }, t('in.new_title'), titleInput),
      h('label', {}, t('in.new_severity'), sevSelect),
      h('button', { type: 'submit', class: 'btn primary', id: 'incident-create' }, t('in.new')));
    titleInput.addEventListener('input', () => { msg.textContent = ''; });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      msg.textContent = '';
      const ids = alertIds();
      if (!ids.length) { msg.textContent = t('in.pick_first'); return; }
      if (!titleInput.value.trim()) { msg.textContent = t('in.title_needed'); titleInput.focus(); return; }
      try {
        const r = await api('POST', '/api/v1/incidents', { title: titleInput.value.trim(), severity: Number(sevSelect.value), alerts: ids });
        picked.clear();
        toast(t('in.created_ok', { id: r.id }));
        location.hash = '#/incidents/' + r.id;
      } catch (e) {
        msg.textContent = t('error.refused', { status: e.status || '?', msg: e.message });
      }
    });
    return { form, msg, sevSelect };
  }

  async function pageIncidents(params, alive) {
    const status = params.get('status') || '';
    const before = params.get('before') || '';
    const limit = 100;
    const list = await api('GET', '/api/v1/incidents' + qs({ status, before, limit }));
    const fetched = Date.now();
    const sel = h('select', { id: 'in-status', name: 'status' },
      [['', t('in.all')], ['active', t('in.active')], ...INCIDENT_STATUSES.map((x) => [x, t('in.st.' + x)])].map(([v, l]) => {
        const o = h('option', { value: v }, l); if (v === status) o.selected = true; return o;
      }));
    sel.addEventListener('change', () => { location.hash = '#/incidents' + qs({ status: sel.value }); });
    const rows = list.map((i) => {
      const href = '#/incidents/' + i.id;
      const tr = h('tr', { class: 'row incident-row' + (clockOverdue(i.clock) ? ' overdue' : ''), 'data-id': i.id, id: 'incident-row-' + i.id },
        h('td', { class: 'num' }, h('a', { href, class: 'incident-link' }, '#' + i.id)),
        h('td', {}, sevBadge(i.severity)),
        h('td', { class: 'status-cell' }, incidentBadge(i.status)),
        h('td', { class: 'deadline-cell' }, CLOCKS.map((k) => h('div', {}, deadlineLine(k, get(i, 'clock.' + k), fetched)))),
        h('td', { class: 'assignee-cell' }, i.assignee || ''),
        h('td', { class: 'agencies-cell' }, shortText(asText(i.agencies), 60)),
        h('td', { class: 'hosts-cell' }, shortText(asText(i.hosts), 60)),
        h('td', { class: 'num alerts-cell' }, String(i.alert_count)),
        h('td', { class: 'title-cell' }, i.title));
      tr.addEventListener('click', (ev) => { if (!ev.target.closest('a')) location.hash = href; });
      return tr;
    });
    const toolbar = h('div', { class: 'filters panel' },
      h('label', {}, t('in.status'), sel),
      h('span', { class: 'spacer' }),
      before ? h('a', { class: 'btn', id: 'incidents-first', href: '#/incidents' + qs({ status }) }, t('in.first')) : null,
      list.length === limit ? h('a', { class: 'btn', id: 'incidents-older', href: '#/incidents' + qs({ status, before: list[list.length - 1].id }) }, t('in.older')) : null);
    const tbl = h('div', { class: 'wrap panel' }, list.length ? h('table', { id: 'incidents-table' },
      h('thead', {}, h('tr', {}, [t('in.id'), t('in.severity'), t('in.status'), t('in.deadline'), t('in.assignee'), t('in.agencies'),
        t('in.hosts'), t('in.alerts'), t('in.title_col')].map((x) => h('th', {}, x)))),
      h('tbody', {}, rows)) : h('p', { class: 'muted', id: 'incidents-empty' }, t('none')));
    show(alive, h('h1', { id: 'incidents-title' }, t('in.title')), toolbar, tbl);
  }

  async function pageIncident(id, alive) {
    const base = '/api/v1/incidents/' + encodeURIComponent(id);
    const i = await api('GET', base);
    const fetched = Date.now();
    const canChange = session.role !== 'auditor';
    const rank = INCIDENT_STATUSES.indexOf(i.status);
    // A refusal is shown over the page drawn again: what it refused is then plain to see.
    const notice = incidentNotice && incidentNotice.id === String(i.id) ? incidentNotice.text : '';
    incidentNotice = null;
    async function change(kind, body) {
      try {
        await api('POST', base + '/' + kind, body);
        toast(t('act.done'));
      } catch (e) {
        if (e.status === 401) return;
        incidentNotice = { id: String(i.id), text: t('error.refused', { status: e.status || '?', msg: e.message }) };
        toast(e.message, true);
      }
      render();
    }

    const fact = (label, value, idAttr) => [h('dt', {}, label), h('dd', { id: idAttr }, value === '' || value === undefined ? '—' : value)];
    const facts = h('section', { class: 'panel' }, h('h2', {}, t('in.facts')),
      h('dl', { class: 'facts', id: 'incident-facts' },
        fact(t('in.title_col'), i.title, 'incident-title-fact'),
        fact(t('in.severity'), sevBadge(i.severity)),
        fact(t('in.status'), incidentBadge(i.status), 'incident-status-fact'),
        fact(t('in.assignee'), i.assignee || h('span', { class: 'muted' }, t('in.nobody')), 'incident-assignee'),
        fact(t('in.detected'), fmtTime(i.detected_at), 'incident-detected'),
        fact(t('in.created'), fmtTime(i.created_at) + ' · ' + asText(i.created_by)),
        fact(t('in.agencies'), asText(i.agencies), 'incident-agencies'),
        fact(t('in.hosts'), asText(i.hosts), 'incident-hosts'),
        fact(t('in.systems'), (i.systems || []).length ? asText(i.systems) : h('span', { class: 'muted' }, t('in.no_systems')),
          'incident-systems')));

    const clockRows = CLOCKS.map((k) => {
      const c = get(i, 'clock.' + k) || {};
      const stateCell = h('td', { class: 'state-cell' });
      return h('tr', { 'data-kind': k, id: 'clock-' + k, class: c.state === 'overdue' ? 'overdue' : '' },
        h('th', { scope: 'row' }, t('clock.' + k)),
        h('td', {}, c.due ? fmtTime(c.due) : '—'),
        stateCell,
        h('td', { class: 'left-cell' }, deadlineLine(k, c, fetched, true, stateCell)),
        h('td', {}, c.done_at ? fmtTime(c.done_at) : '—'));
    });
    const clock = h('section', { class: 'panel' }, h('h2', {}, t('in.clock')),
      h('div', { class: 'wrap' }, h('table', { id: 'incident-clock', class: 'clock' },
        h('thead', {}, h('tr', {}, ['', t('in.due'), t('in.state'), t('in.left'), t('in.done_at')].map((x) => h('th', {}, x)))),
        h('tbody', {}, clockRows))));

    const alerts = Array.isArray(i.alerts) ? i.alerts : [];
    const alertsBox = h('section', { class: 'panel' }, h('h2', {}, t('in.alerts') + ' (' + alerts.length + ')'),
      alerts.length ? table([t('al.id'), t('al.time'), t('al.sev_col'), t('al.rule'), t('al.agency'), t('al.host'), t('al.source'), t('det.user')],
        alerts.map((a) => [link('/alerts/' + a.id, '#' + a.id), h('span', { class: 'nowrap' }, fmtTime(a.time)), sevBadge(a.severity),
          h('span', {}, h('div', {}, txt(a, 'rule_name')), h('div', { class: 'muted mono' }, asText(a.rule_id))),
          asText(a.agency), asText(a.host), h('span', { class: 'mono' }, asText(a.source_ip)), asText(a.user_name)]),
        { id: 'incident-alerts' }) : h('p', { class: 'muted' }, t('in.no_alerts')));

    const timeline = Array.isArray(i.timeline) ? i.timeline : [];
    const entryValue = (e) => {
      if (e.action === 'status') return incidentBadge(e.value);
      if (e.action === 'alert') return link('/alerts/' + encodeURIComponent(e.value), '#' + e.value);
      if (e.action === 'assign') return e.value || h('span', { class: 'muted' }, t('in.nobody'));
      return h('span', { class: 'entry-text' }, asText(e.value));
    };
    const timelineBox = h('section', { class: 'panel' }, h('h2', {}, t('in.timeline')),
      h('div', { class: 'wrap' }, h('table', { id: 'incident-timeline' },
        h('thead', {}, h('tr', {}, [t('al.time'), t('det.who'), t('det.action'), t('det.value')].map((x) => h('th', {}, x)))),
        h('tbody', {}, timeline.map((e) => h('tr', { 'data-action': e.action },
          h('td', { class: 'nowrap' }, fmtTime(e.time)), h('td', {}, asText(e.who)),
          h('td', { class: 'action-cell' }, I18N.en['tl.' + e.action] ? t('tl.' + e.action) : asText(e.action)),
          h('td', {}, entryValue(e))))))));

    let actions = null;
    if (canChange) {
      const next = INCIDENT_STATUSES.slice(rank + 1);
      const assignInput = h('input', { id: 'incident-assign-input', value: i.assignee || '', placeholder: t('act.assign_to'), 'aria-label': t('act.assign_to'), autocomplete: 'off' });
      const commentInput = h('textarea', { id: 'incident-comment-input', placeholder: t('act.comment_text'), 'aria-label': t('act.comment_text') });
      const noteInput = h('input', { id: 'incident-notify-note', class: 'wide', placeholder: t('in.notify_note'), 'aria-label': t('in.notify_note'), autocomplete: 'off' });
      const alertInput = h('input', { id: 'incident-alert-input', type: 'number', min: '1', placeholder: t('in.alert_id'), 'aria-label': t('in.alert_id') });
      const notifiedAt = get(i, 'clock.notify.done_at');
      actions = h('section', { class: 'panel', id: 'incident-actions' }, h('h2', {}, t('in.actions')),
        h('div', { class: 'triage', id: 'incident-status-actions' }, h('span', { class: 'muted' }, t('in.move') + ':'),
          next.length ? next.map((st) => h('button', { type: 'button', class: 'btn primary', id: 'btn-status-' + st, 'data-status': st,
            onclick: () => change('status', { status: st }) }, t('in.st.' + st)))
            : h('span', { id: 'incident-final' }, t('in.final'))),
        h('div', { class: 'triage' }, assignInput,
          h('button', { type: 'button', class: 'btn', id: 'btn-incident-assign', onclick: () => change('assign', { assignee: assignInput.value.trim() }) }, t('act.assign')),
          alertInput,
          h('button', { type: 'button', class: 'btn', id: 'btn-incident-add-alert',
            onclick: () => { if (alertInput.value.trim()) change('alerts', { alert: Number(alertInput.value) }); } }, t('in.add_alert'))),
        notifiedAt ? h('p', { class: 'muted', id: 'incident-notified' }, t('in.notified_at', { t: fmtTime(notifiedAt) }))
          : h('div', { class: 'triage' }, noteInput,
            h('button', { type: 'button', class: 'btn', id: 'btn-incident-notified',
              onclick: () => change('notified', noteInput.value.trim() ? { note: noteInput.value.trim() } : {}) }, t('in.notify'))),
        h('div', { class: 'comment-box' }, commentInput,
          h('button', { type: 'button', class: 'btn', id: 'btn-incident-comment',
            onclick: () => { if (commentInput.value.trim()) change('comment', { text: commentInput.value.trim() }); } }, t('act.comment'))));
    }

    const report = (l, key) => h('a', { href: base + '/report' + qs({ lang: l }), target: '_blank', rel: 'noopener noreferrer',
      class: 'btn report-link', id: 'incident-report-' + l }, t(key));
    if (!show(alive,
      h('p', {}, link('/incidents', t('in.back'))),
      h('div', { class: 'detail-head' }, h('h1', { id: 'incident-heading' }, '#' + i.id + ' ' + i.title), sevBadge(i.severity),
        h('span', { id: 'incident-status' }, incidentBadge(i.status)),
        h('span', { class: 'spacer' }), report('vi', 'in.report_vi'), report('en', 'in.report_en')),
      notice ? h('p', { class: 'notice error', id: 'incident-error', role: 'alert' }, notice) : null,
      h('div', { class: 'grid incident-grid' }, facts, clock),
      actions, alertsBox, timelineBox)) return;
    keyHandler = (e) => {
      switch (e.key) {
        case 'Escape': case 'Backspace': case 'u': location.hash = '#/incidents'; return true;
        default: return false;
      }
    };
  }

  // ---------------------------------------------------------------------------------------
  // Events: the search over stored events (GET /api/v1/events)
  const WINDOWS = ['1h', '24h', '7d'];
  const EVENTS_PAGE = 50;
  const HISTOGRAM_BUCKETS = 60;
  let eventCursors = []; // `before` cursors of the pages above the current one
  let lastEventKey = '';

  // A value for the query language: quoted, its quotes and backslashes escaped.
  function quoteValue(v) { return '"' + String(v).replace(/[\\"]/g, '\\$&') + '"'; }

  // The index in a JS string of a byte offset into its UTF-8 form (the collector counts bytes).
  function utf8Index(text, bytes) {
    const enc = new TextEncoder();
    let b = 0, i = 0;
    for (const ch of text) {
      if (b >= bytes) break;
      b += enc.encode(ch).length;
      i += ch.length;
    }
    return i;
  }

  // Bars of hits per bucket; a bar with hits is a link to its own window.
  function histogram(hist, onPick) {
    const buckets = hist && Array.isArray(hist.buckets) ? hist.buckets : [];
    const secs = Number(hist && hist.bucket_seconds) || 0;
    const W = 960, H = 170, L = 44, R = 10, T = 10, B = 26;
    const max = Math.max(1, ...buckets.map((b) => Number(b.count) || 0));
    const step = niceStep(max);
    const top = Math.ceil(max / step) * step;
    const y = (v) => T + (H - T - B) * (1 - v / top);
    const bw = (W - L - R) / Math.max(1, buckets.length);
    const g = s('svg', { class: 'chart histogram', viewBox: `0 0 ${W} ${H}`, role: 'img', id: 'events-histogram', 'aria-label': t('ev.histogram') });
    for (let v = 0; v <= top; v += step) {
      g.appendChild(s('line', { class: 'grid-line', x1: L, x2: W - R, y1: y(v), y2: y(v) }));
      g.appendChild(s('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end' }, String(v)));
    }
    const short = secs * buckets.length <= 2 * 86400;
    const label = (d) => short ? d.toLocaleTimeString(locale(), { hour: '2-digit', minute: '2-digit' })
      : d.toLocaleDateString(locale(), { day: '2-digit', month: '2-digit' });
    const every = Math.max(1, Math.ceil(buckets.length / 8));
    let lastLabel = '';
    buckets.forEach((b, i) => {
      const start = parseTime(b.start);
      const n = Number(b.count) || 0;
      if (n > 0) {
        const rect = s('rect', { class: 'c0 hist-bar', x: L + i * bw + 1, width: Math.max(1, bw - 2), y: y(n), height: y(0) - y(n), 'data-count': n });
        rect.appendChild(s('title', {}, `${fmtTime(b.start)}: ${n}`));
        if (start && secs) rect.addEventListener('click', () => onPick(start, secs));
        g.appendChild(rect);
      }
      // A label every few buckets, none repeating the one before (two buckets of one day).
      if (start && i % every === 0 && label(start) !== lastLabel) {
        lastLabel = label(start);
        g.appendChild(s('text', { x: L + i * bw, y: H - 8, 'text-anchor': i ? 'middle' : 'start' }, lastLabel));
      }
    });
    g.appendChild(s('line', { class: 'axis', x1: L, x2: W - R, y1: y(0), y2: y(0) }));
    return g;
  }

  async function pageEvents(params, alive) {
    const q = params.get('q') || '';
    const since = params.get('since') || '';
    const until = params.get('until') || '';
    const before = params.get('before') || '';
    const key = JSON.stringify([q, since, until]);
    if (key !== lastEventKey) { eventCursors = []; lastEventKey = key; }
    const preset = !until && (!since || WINDOWS.includes(since)) ? (since || '24h') : 'custom';

    let doc = null, failure = null;
    try {
      doc = await api('GET', '/api/v1/events' + qs({ q, since, until, before, limit: EVENTS_PAGE, histogram: HISTOGRAM_BUCKETS }));
    } catch (e) {
      // A query the collector cannot read, or one too costly: its words go under the box.
      if (!(e instanceof ApiError) || (e.status !== 400 && e.status !== 422)) throw e;
      failure = e;
    }
    // The same search again (Enter in an unchanged box) asks the collector again.
    const go = (p) => {
      const next = '#/events' + qs(p);
      if (location.hash === next) render(); else location.hash = next;
    };

    // The query and its window.
    const input = h('input', { id: 'ev-query', name: 'q', type: 'search', class: 'mono', value: q, placeholder: t('ev.placeholder'),
      'aria-label': t('ev.query'), autocomplete: 'off', spellcheck: 'false', 'aria-invalid': failure ? 'true' : null });
    const windowSel = h('select', { id: 'ev-window', name: 'window' },
      [...WINDOWS.map((w) => [w, t('ev.w' + w)]), ['custom', t('ev.custom')]].map(([v, l]) => {
        const o = h('option', { value: v }, l); if (v === preset) o.selected = true; return o;
      }));
    const sinceIn = h('input', { id: 'ev-since', type: 'datetime-local', value: preset === 'custom' ? localInput(since) : '' });
    const untilIn = h('input', { id: 'ev-until', type: 'datetime-local', value: preset === 'custom' ? localInput(until) : '' });
    const custom = h('span', { class: 'custom-window' + (preset === 'custom' ? '' : ' hidden') },
      h('label', {}, t('al.from'), sinceIn), h('label', {}, t('al.to'), untilIn));
    // A custom bound left as it came (a pivot's exact second, "30m") stays as it was written.
    const bound = (el, original) => {
      if (el.value === localInput(original)) return original;
      const d = new Date(el.value);
      return el.value && !isNaN(d.getTime()) ? rfc3339(d) : '';
    };
    const submit = () => {
      const w = windowSel.value;
      if (w === 'custom') go({ q: input.value.trim(), since: bound(sinceIn, since), until: bound(untilIn, until) });
      else go({ q: input.value.trim(), since: w });
    };
    windowSel.addEventListener('change', () => {
      custom.classList.toggle('hidden', windowSel.value !== 'custom');
      if (windowSel.value !== 'custom') submit();
    });
    const form = h('form', { class: 'query-form', id: 'events-form', role: 'search' },
      h('label', { class: 'query' }, t('ev.query'), input),
      h('label', {}, t('ev.window'), windowSel),
      custom,
      h('button', { type: 'submit', class: 'btn primary', id: 'ev-search' }, t('ev.search')));
    form.addEventListener('submit', (ev) => { ev.preventDefault(); submit(); });

    let errorBox = null, caretAt = -1;
    if (failure) {
      const pos = failure.data && Number.isInteger(failure.data.position) ? failure.data.position : null;
      errorBox = h('div', { class: 'notice error query-error', id: 'events-error', role: 'alert' }, h('div', { id: 'events-error-text' }, failure.message));
      if (pos !== null && pos >= 0 && pos <= new TextEncoder().encode(q).length) {
        caretAt = utf8Index(q, pos);
        const at = q.slice(caretAt).match(/^[\s\S]/u);
        const mark = at ? at[0] : ' ';
        errorBox.appendChild(h('div', { class: 'mono caret-line', id: 'events-error-caret' },
          q.slice(0, caretAt), h('mark', { class: 'caret' }, mark), q.slice(caretAt + (at ? mark.length : 0))));
        errorBox.appendChild(h('div', { class: 'muted', id: 'events-error-position' }, t('ev.position', { n: pos })));
      }
    }
    const queryPanel = h('section', { class: 'panel' }, form, errorBox,
      h('p', { class: 'muted mono syntax' }, t('ev.syntax') + ': field:value · field:prefix* · source.ip:10.0.0.0/8 · ' +
        'destination.port<1024 · word "a phrase" · AND OR NOT ( )'));

    if (!doc) {
      if (!show(alive, h('h1', {}, t('ev.title')), queryPanel)) return;
      input.focus();
      if (caretAt >= 0) input.setSelectionRange(caretAt, caretAt);
      return;
    }

    // What matched: how many over time, then this page of them.
    const hits = Array.isArray(doc.hits) ? doc.hits : [];
    const buckets = doc.histogram && Array.isArray(doc.histogram.buckets) ? doc.histogram.buckets : null;
    const total = buckets ? buckets.reduce((n, b) => n + (Number(b.count) || 0), 0) : null;
    const count = h('p', { id: 'events-count', 'data-shown': hits.length, 'data-total': total === null ? null : total, 'data-more': doc.next ? 'true' : 'false' },
      total === null ? '' : t('ev.total', { n: total, since: fmtTime(doc.since), until: fmtTime(doc.until) }) + ' · ',
      t('ev.shown', { n: hits.length }) + ' · ' + (doc.next ? t('ev.more') : t('ev.no_more')));
    const chart = buckets ? h('section', { class: 'panel' },
      h('h2', {}, t('ev.histogram'), ' ', h('span', { class: 'muted small' }, t('ev.zoom'))),
      histogram(doc.histogram, (start, secs) => go({ q, since: rfc3339(start), until: rfc3339(new Date(start.getTime() + secs * 1000)) })),
      count) : count;

    const headers = [t('al.time'), t('al.agency'), t('al.host'), t('ev.dataset'), t('al.source'), t('det.destination'), t('det.user'), t('ev.summary')];
    const rows = [];
    for (const hit of hits) {
      const e = hit.event && typeof hit.event === 'object' ? hit.event : {};
      const summary = asText(get(e, 'event.original')) || asText(get(e, 'rule.name')) || asText(get(e, 'message'));
      const tr = h('tr', { class: 'row hit', 'data-id': hit.id, tabindex: '0', 'aria-expanded': 'false' },
        h('td', { class: 'nowrap' }, fmtTime(hit.time)),
        h('td', {}, asText(hit.agency)),
        h('td', {}, asText(hit.host)),
        h('td', { class: 'mono' }, asText(get(e, 'event.dataset'))),
        h('td', { class: 'mono' }, endpointText(get(e, 'source.ip'), get(e, 'source.port'))),
        h('td', { class: 'mono' }, endpointText(get(e, 'destination.ip'), get(e, 'destination.port'))),
        h('td', {}, asText(get(e, 'user.name'))),
        h('td', { class: 'mono summary', title: summary }, summary));
      let detail = null;
      const toggle = () => {
        if (detail) {
          detail.remove();
          detail = null;
        } else {
          // Every field of the stored event, by its dotted name; values as text only.
          detail = h('tr', { class: 'hit-detail' }, h('td', { colspan: String(headers.length) },
            h('table', { class: 'fields' }, h('tbody', {},
              flatten(e).map(([k, v]) => h('tr', { class: 'field-row' }, h('th', { class: 'mono' }, k), h('td', { class: 'mono' }, asText(v))))))));
          tr.after(detail);
        }
        tr.classList.toggle('open', Boolean(detail));
        tr.setAttribute('aria-expanded', detail ? 'true' : 'false');
      };
      tr.addEventListener('click', toggle);
      tr.addEventListener('keydown', (ev) => {
        if (ev.key !== 'Enter' && ev.key !== ' ') return;
        ev.preventDefault();
        ev.stopPropagation();
        toggle();
      });
      rows.push(tr);
    }

    const pageNo = eventCursors.length + 1;
    function older() {
      if (!doc.next) return;
      eventCursors.push(before);
      go({ q, since, until, before: doc.next });
    }
    function newer() {
      if (!eventCursors.length) return;
      go({ q, since, until, before: eventCursors.pop() });
    }
    const toolbar = h('div', { class: 'toolbar' },
      h('span', { class: 'muted' }, hits.length ? t('ev.expand') : ''),
      h('span', { class: 'spacer' }),
      h('button', { type: 'button', class: 'btn', id: 'ev-newer', disabled: !eventCursors.length, onclick: newer }, t('al.newer')),
      h('span', { id: 'ev-page-no' }, t('al.page', { n: pageNo })),
      h('button', { type: 'button', class: 'btn', id: 'ev-older', disabled: !doc.next, onclick: older }, t('al.older')));
    const results = hits.length
      ? h('div', { class: 'wrap panel' }, h('table', { id: 'events-table' },
        h('thead', {}, h('tr', {}, headers.map((x) => h('th', {}, x)))), h('tbody', {}, rows)))
      : h('p', { class: 'muted', id: 'events-empty' }, t('ev.no_hits'));
    if (!show(alive, h('h1', {}, t('ev.title')), queryPanel, chart, toolbar, results)) return;
    if (!q) input.focus();
    keyHandler = (ev) => {
      switch (ev.key) {
        case ']': older(); return true;
        case '[': newer(); return true;
        case '/': input.focus(); input.select(); return true;
        default: return false;
      }
    };
  }

  // ---------------------------------------------------------------------------------------
  // Agents
  async function pageAgents(alive) {
    const agents = await api('GET', '/api/v1/agents');
    const admin = session.role === 'admin';
    // The newest program version among the listed agents: older ones are flagged.
    let newest = null;
    for (const a of agents) {
      const parts = versionParts(a.version);
      if (parts && (!newest || compareVersions(parts, newest.parts) > 0)) newest = { parts, text: asText(a.version) };
    }
    const versionCell = (a) => {
      const parts = versionParts(a.version);
      if (!newest || !parts || compareVersions(parts, newest.parts) >= 0) return asText(a.version);
      return [asText(a.version), ' ', h('span', { class: 'st st-outdated', title: t('ag.newest', { v: newest.text }) }, t('ag.outdated'))];
    };
    const bundleCell = (a) => {
      const version = Number(a.bundle_version) || 0;
      const err = asText(a.bundle_error);
      return [h('span', { class: 'bundle-version' }, version ? String(version) : '—'),
        err ? [' ', h('span', { class: 'st st-bundle-error', title: err }, t('ag.bundle_error')),
          h('div', { class: 'bundle-error' }, shortText(err, 80))] : null];
    };
    const headers = [t('ag.id'), t('ag.host'), t('ag.agency'), t('ag.level'), t('sy.systems'), t('ag.version'), t('ag.group'), t('ag.bundle'),
      t('ag.status'), t('ag.last_seen'), t('ag.enrolled')];
    if (admin) headers.push('');
    const rows = agents.map((a) => {
      const state = agentState(a);
      const cells = [h('span', { class: 'mono' }, a.id), a.host, a.agency, String(a.level), agentSystemsCell(a, admin), versionCell(a),
        a.group ? h('a', { href: '#/groups/' + encodeURIComponent(a.group), class: 'agent-group' }, asText(a.group)) : '', bundleCell(a),
        h('span', { class: 'st st-' + state }, t('agent.' + state)),
        h('span', { title: fmtTime(a.last_seen) }, fmtAgo(a.last_seen)), fmtTime(a.enrolled)];
      if (admin) {
        if (a.status === 'revoked') {
          cells.push('');
        } else {
          const btn = h('button', { type: 'button', class: 'btn danger', 'data-agent': a.id }, t('ag.revoke'));
          let armed = null;
          btn.addEventListener('click', async () => {
            if (!armed) {
              btn.textContent = t('ag.confirm');
              btn.classList.add('armed');
              armed = setTimeout(() => { armed = null; btn.textContent = t('ag.revoke'); btn.classList.remove('armed'); }, 5000);
              return;
            }
            clearTimeout(armed);
            try {
              await api('POST', `/api/v1/agents/${encodeURIComponent(a.id)}/revoke`);
              toast(t('ag.revoked_ok'));
              render();
            } catch (e) {
              toast(e.message, true);
            }
          });
          cells.push(btn);
        }
      }
      return cells;
    });
    show(alive, h('h1', {}, t('ag.title')),
      h('div', { class: 'panel' }, agents.length ? table(headers, rows, { id: 'agents-table' }) : h('p', { class: 'muted' }, t('none'))));
  }

  // The systems an agent serves: links; an admin edits them in place (names of its agency's systems).
  function agentSystemsCell(a, admin) {
    const names = Array.isArray(a.systems) ? a.systems : [];
    const shown = h('span', { class: 'agent-systems' }, names.length
      ? names.map((n, i) => [i ? ', ' : '', link('/systems/' + encodeURIComponent(n), asText(n))])
      : h('span', { class: 'muted' }, t('sy.none')));
    if (!admin || a.status === 'revoked') return shown;
    const input = h('input', { class: 'agent-systems-input', 'data-systems-of': a.id, value: names.join(', '),
      'aria-label': t('sy.agent_systems'), placeholder: t('sy.agent_systems'), size: 18 });
    const save = h('button', { type: 'button', class: 'btn agent-systems-save', 'data-systems-of': a.id }, t('sy.save'));
    save.addEventListener('click', async () => {
      const systems = input.value.split(',').map((x) => x.trim()).filter((x) => x);
      try {
        await api('POST', `/api/v1/agents/${encodeURIComponent(a.id)}/systems`, { systems });
        toast(t('sy.agent_saved'));
        render();
      } catch (e) {
        toast(e.message, true);
      }
    });
    return h('div', { class: 'agent-systems-edit' }, shown, h('div', {}, input, ' ', save));
  }

  // ---------------------------------------------------------------------------------------
  // Information systems: the law gives a security level to a system, not to a host. The score and
  // self-assessment come from the compliance summary (each system at its level).
  async function complianceBySystem() {
    let doc = [];
    try { doc = await api('GET', '/api/v1/compliance'); } catch (e) { if (e && e.status === 401) throw e; }
    const out = new Map();
    for (const c of Array.isArray(doc) ? doc : []) {
      for (const sys of Array.isArray(c.systems) ? c.systems : []) out.set(c.agency + '\u0000' + sys.name, sys);
    }
    return out;
  }

  function levelSelect(id, value) {
    return h('select', { id }, [1, 2, 3, 4, 5].map((n) => {
      const o = h('option', { value: String(n) }, String(n)); if (n === Number(value)) o.selected = true; return o;
    }));
  }

  function scoreBadge(sys) {
    const score = sys && sys.score;
    return h('span', { class: 'score ' + scoreClass(score) }, typeof score === 'number' ? pct(score) : t('co.no_score'));
  }

  async function pageSystems(alive) {
    const [systems, scores] = await Promise.all([api('GET', '/api/v1/systems'), complianceBySystem()]);
    const admin = session.role === 'admin';
    const rows = systems.map((sy) => {
      const href = '#/systems/' + encodeURIComponent(sy.name);
      const sum = scores.get(sy.agency + '\u0000' + sy.name);
      const tr = h('tr', { class: 'row', 'data-system': sy.name },
        h('td', {}, asText(sy.agency)),
        h('td', {}, h('a', { href, class: 'system-link' }, asText(sy.name))),
        h('td', { class: 'num system-level' }, asText(sy.level)),
        h('td', { class: 'num system-hosts' }, asText(sum ? sum.agents : sy.agents)),
        h('td', { class: 'system-description' }, asText(sy.description)),
        h('td', { class: 'system-score' }, scoreBadge(sum)));
      tr.addEventListener('click', (ev) => { if (!ev.target.closest('a')) location.hash = href; });
      return tr;
    });
    const list = systems.length
      ? h('div', { class: 'wrap' }, h('table', { id: 'systems-table' },
        h('thead', {}, h('tr', {}, [t('sy.agency'), t('sy.name'), t('sy.level'), t('sy.hosts'), t('sy.description'), t('sy.score')].map((x) => h('th', {}, x)))),
        h('tbody', {}, rows)))
      : h('p', { class: 'muted', id: 'systems-empty' }, t('none'));
    let form = null;
    if (admin) {
      const name = h('input', { id: 'system-name', required: true, maxlength: 200 });
      const agencies = session.agencies && session.agencies.length ? session.agencies : [...new Set(systems.map((x) => x.agency))];
      const agency = h('input', { id: 'system-agency', required: true, list: 'system-agencies', value: agencies.length === 1 ? agencies[0] : '' });
      const level = levelSelect('system-level', 3);
      const description = h('input', { id: 'system-description', size: 40 });
      form = h('form', { class: 'panel', id: 'system-create' },
        h('h2', {}, t('sy.create')),
        h('datalist', { id: 'system-agencies' }, agencies.map((x) => h('option', { value: x }))),
        h('div', { class: 'filters' },
          h('label', {}, t('sy.name'), name), h('label', {}, t('sy.agency'), agency), h('label', {}, t('sy.level'), level),
          h('label', {}, t('sy.description'), description),
          h('button', { type: 'submit', class: 'btn primary', id: 'system-submit' }, t('sy.add'))));
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        try {
          await api('POST', '/api/v1/systems', { name: name.value.trim(), agency: agency.value.trim(),
            level: Number(level.value), description: description.value });
          toast(t('sy.created'));
          render();
        } catch (e) {
          toast(e.message, true);
        }
      });
    }
    show(alive, h('h1', {}, t('sy.title')), h('div', { class: 'panel' }, list), form);
  }

  // A self-assessment as a table: requirement, verdict, counts, and observed against expected.
  function selfAssessmentTable(rows, id) {
    return table([t('sy.requirement'), t('sy.verdict'), t('co.pass'), t('co.fail'), t('sy.observed'), t('sy.expected')],
      rows.map((c) => [h('span', { title: txt(c, 'title') }, h('span', { class: 'mono' }, asText(c.id)), ' ', txt(c, 'title')),
        h('span', { class: 'st v-' + asText(c.verdict).replace(/[^a-z_]/g, '') }, t('v.' + c.verdict) !== 'v.' + c.verdict ? t('v.' + c.verdict) : asText(c.verdict)),
        asText(c.pass), asText(c.fail), asText(c.observed || ''), asText(c.expected || '')]), { id, class: 'sa-table' });
  }

  // A system of the summary (or the unassigned hosts): score, counts, hosts, self-assessment.
  function systemSection(sys, title, id) {
    const counts = h('div', { class: 'counts' },
      ['pass', 'fail', 'error', 'not_applicable', 'waived', 'not_checked'].map((k) =>
        h('span', { class: 'count-' + k }, h('b', {}, String((sys.counts || sys)[k] ?? 0)), ' ' + t('co.' + k))));
    const hosts = Array.isArray(sys.hosts) ? sys.hosts : [];
    const sa = Array.isArray(sys.self_assessment) ? sys.self_assessment : [];
    return h('div', { class: 'system-part', 'data-system': sys.name ?? '' },
      h('div', { class: 'agency-head' }, h('h3', {}, title), scoreBadge(sys)),
      counts,
      h('p', { class: 'system-hosts-list' }, t('sy.hosts') + ': ', hosts.length
        ? hosts.map((x, i) => [i ? ', ' : '', asText(x.host || x.id), sys.name == null ? ' (' + t('sy.level') + ' ' + asText(x.level) + ')' : ''])
        : h('span', { class: 'muted' }, t('sy.no_hosts'))),
      sa.length ? h('details', { class: 'failing' }, h('summary', {}, t('co.self_assessment') + ' (' + sa.length + ')'), selfAssessmentTable(sa, id)) : null);
  }

  async function pageSystem(name, alive) {
    const sy = await api('GET', '/api/v1/systems/' + encodeURIComponent(name));
    const scores = await complianceBySystem();
    const sum = scores.get(sy.agency + '\u0000' + sy.name);
    const admin = session.role === 'admin';
    const facts = h('dl', { class: 'facts', id: 'system-facts' },
      h('dt', {}, t('sy.agency')), h('dd', {}, asText(sy.agency)),
      h('dt', {}, t('sy.level')), h('dd', { id: 'system-level-value' }, asText(sy.level)),
      h('dt', {}, t('sy.description')), h('dd', {}, asText(sy.description)),
      h('dt', {}, t('sy.score')), h('dd', {}, scoreBadge(sum)));
    const hosts = Array.isArray(sy.hosts) ? sy.hosts : [];
    const hostTable = hosts.length
      ? table([t('ag.id'), t('ag.host'), t('ag.status'), t('ag.last_seen')], hosts.map((x) =>
        [h('span', { class: 'mono' }, asText(x.id)), asText(x.host), asText(x.status), fmtTime(x.last_seen)]), { id: 'system-hosts' })
      : h('p', { class: 'muted' }, t('sy.no_hosts'));
    let edit = null;
    if (admin) {
      const level = levelSelect('system-edit-level', sy.level);
      const description = h('input', { id: 'system-edit-description', value: asText(sy.description), size: 40 });
      edit = h('form', { class: 'panel', id: 'system-edit' }, h('h2', {}, t('sy.edit')),
        h('div', { class: 'filters' }, h('label', {}, t('sy.level'), level), h('label', {}, t('sy.description'), description),
          h('button', { type: 'submit', class: 'btn primary', id: 'system-save' }, t('sy.save'))));
      edit.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        try {
          await api('POST', '/api/v1/systems/' + encodeURIComponent(sy.name), { level: Number(level.value), description: description.value });
          toast(t('sy.saved'));
          render();
        } catch (e) {
          toast(e.message, true);
        }
      });
    }
    show(alive, h('p', {}, link('/systems', t('sy.back'))),
      h('h1', {}, t('sy.name') + ': ' + asText(sy.name)),
      h('div', { class: 'panel' }, facts),
      h('section', { class: 'panel' }, h('h2', {}, t('sy.hosts')), hostTable),
      sum ? h('section', { class: 'panel' }, systemSection(sum, t('co.self_assessment'), 'system-self-assessment')) : null,
      edit);
    const details = main().querySelector('.system-part details');
    if (details) details.open = true;
  }

  // ---------------------------------------------------------------------------------------
  // Groups: which bundle of rules and policies each agent runs (pushed with vigilctl, from files)
  // Creating a group and rolling back are for admins; what the collector refuses them (a group with
  // agents of agencies an admin is not limited to) comes back with its reason.
  function canManageGroups() { return session.role === 'admin'; }

  function pushHint(name) {
    return h('p', { class: 'muted push-hint', id: 'push-hint' }, t('gr.push_hint') + ' ',
      h('code', { class: 'mono nowrap' }, 'vigilctl groups push ' + name + ' --rules DIR'));
  }

  async function pageGroups(alive) {
    const groups = await api('GET', '/api/v1/groups');
    const rows = groups.map((g) => {
      const href = '#/groups/' + encodeURIComponent(g.name);
      const version = Number(g.version) || 0;
      const tr = h('tr', { class: 'row', 'data-group': g.name },
        h('td', {}, h('a', { href, class: 'group-link' }, asText(g.name))),
        h('td', { class: 'group-description' }, asText(g.description)),
        h('td', { class: 'num group-version' }, version ? String(version) : h('span', { class: 'muted' }, t('gr.no_version'))),
        h('td', { class: 'num group-agents' }, asText(g.agents)),
        h('td', { class: 'nowrap' }, fmtTime(g.created)));
      tr.addEventListener('click', (ev) => { if (!ev.target.closest('a')) location.hash = href; });
      return tr;
    });
    const list = h('div', { class: 'panel' },
      groups.length ? h('div', { class: 'wrap' }, h('table', { id: 'groups-table' },
        h('thead', {}, h('tr', {}, h('th', {}, t('gr.name')), h('th', {}, t('gr.description')), h('th', { class: 'num' }, t('gr.version')),
          h('th', { class: 'num' }, t('gr.agents')), h('th', {}, t('gr.created')))),
        h('tbody', {}, rows))) : h('p', { class: 'muted', id: 'groups-empty' }, t('none')),
      pushHint('NAME'));

    let create = null;
    if (canManageGroups()) {
      const name = h('input', { id: 'group-name', name: 'name', required: true, maxlength: '64', pattern: '[A-Za-z0-9._@\\-]{1,64}',
        autocomplete: 'off', spellcheck: 'false' });
      const description = h('input', { id: 'group-description-input', name: 'description', maxlength: '500', autocomplete: 'off' });
      const msg = h('p', { class: 'error', id: 'group-create-error', role: 'alert' });
      const form = h('form', { class: 'filters', id: 'group-create-form' },
        h('label', {}, t('gr.name'), name),
        h('label', { class: 'wide' }, t('gr.description'), description),
        h('button', { type: 'submit', class: 'btn primary', id: 'group-create-submit' }, t('gr.create')));
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        msg.textContent = '';
        const created = name.value.trim();
        try {
          await api('POST', '/api/v1/groups', { name: created, description: description.value.trim() });
          toast(t('gr.created_ok') + ': ' + created);
          render();
        } catch (e) {
          msg.textContent = e.message;
        }
      });
      create = h('section', { class: 'panel', id: 'group-create' }, h('h2', {}, t('gr.new')), form,
        h('p', { class: 'muted small' }, t('gr.name_hint')), msg);
    }
    show(alive, h('h1', { id: 'groups-title' }, t('gr.title')), list, create);
  }

  async function pageGroup(name, alive) {
    const base = '/api/v1/groups/' + encodeURIComponent(name);
    const [st, history] = await Promise.all([api('GET', base + '/status'), api('GET', base + '/history')]);
    const current = Number(st.version) || 0;
    const agents = Array.isArray(st.agents) ? st.agents : [];
    const onLatest = Number(st.on_latest) || 0;
    const manage = canManageGroups();

    const summary = h('span', { id: 'group-summary', class: onLatest < agents.length ? 'behind' : '', 'data-on-latest': onLatest,
      'data-total': agents.length }, h('b', {}, onLatest + ' / ' + agents.length), ' ' + t('gr.on_latest'));
    const facts = h('section', { class: 'panel' },
      h('dl', { class: 'facts', id: 'group-facts' },
        h('dt', {}, t('gr.description')), h('dd', { id: 'group-description' }, asText(st.description) || '—'),
        h('dt', {}, t('gr.version')), h('dd', { id: 'group-version' }, current ? String(current) : t('gr.no_version')),
        h('dt', {}, t('gr.agents')), h('dd', {}, summary)),
      pushHint(asText(st.group) || name));

    // Per agent: the version it runs, flagged when behind the latest; its last error highlighted.
    const agentRows = agents.map((a) => {
      const version = Number(a.bundle_version) || 0;
      const behind = version < current;
      const err = asText(a.error);
      const other = a.bundle_group && a.bundle_group !== st.group ? t('gr.other_group', { g: asText(a.bundle_group) }) : '';
      return h('tr', { class: 'agent-row' + (behind ? ' behind' : '') + (err ? ' has-error' : ''), 'data-agent': a.id },
        h('td', { class: 'mono' }, asText(a.id)),
        h('td', {}, asText(a.host)),
        h('td', {}, asText(a.agency)),
        h('td', {}, asText(a.agent_version)),
        h('td', { class: 'runs-cell' }, version ? String(version) : '—',
          behind ? [' ', h('span', { class: 'st st-behind' }, t('gr.behind'))] : null,
          other ? h('div', { class: 'muted small' }, other) : null),
        h('td', { class: 'nowrap' }, a.applied_at ? fmtTime(a.applied_at) : '—'),
        h('td', {}, h('span', { title: fmtTime(a.last_seen) }, fmtAgo(a.last_seen))),
        h('td', { class: 'error-cell' }, err ? h('span', { class: 'bundle-error' }, err) : ''));
    });
    const status = h('section', { class: 'panel' }, h('h2', {}, t('gr.status')),
      agents.length ? h('div', { class: 'wrap' }, h('table', { id: 'group-agents' },
        h('thead', {}, h('tr', {}, [t('gr.agent'), t('ag.host'), t('ag.agency'), t('gr.agent_version'), t('gr.runs'),
          t('gr.applied'), t('ag.last_seen'), t('gr.error')].map((x) => h('th', {}, x)))),
        h('tbody', {}, agentRows)))
        : h('p', { class: 'muted', id: 'group-agents-empty' }, t('gr.no_agents')));

    // Versions, newest first; an admin may make an older one current again (two clicks).
    const rollbackButton = (v) => {
      const btn = h('button', { type: 'button', class: 'btn danger rollback', 'data-version': v }, t('gr.rollback'));
      let armed = null;
      const disarm = () => { armed = null; btn.textContent = t('gr.rollback'); btn.classList.remove('armed'); };
      btn.addEventListener('click', async () => {
        if (!armed) {
          btn.textContent = t('gr.confirm_rollback', { n: v });
          btn.classList.add('armed');
          armed = setTimeout(disarm, 5000);
          return;
        }
        clearTimeout(armed);
        btn.disabled = true;
        try {
          const r = await api('POST', base + '/rollback', { to: v });
          toast(t('gr.rolled_back', { v: r.version, n: r.rollback_of }));
          render();
        } catch (e) {
          disarm();
          btn.disabled = false;
          toast(e.message, true);
        }
      });
      return btn;
    };
    const historyHeaders = [t('gr.hist_version'), t('gr.created'), t('gr.author'), t('gr.message'), 'SHA-256'];
    if (manage) historyHeaders.push('');
    const historyRows = history.map((b) => {
      const v = Number(b.version) || 0;
      const sha = asText(b.sha256);
      const rollbackOf = Number(b.rollback_of) || 0;
      const tr = h('tr', { class: v === current ? 'current' : '', 'data-version': v },
        h('td', { class: 'nowrap' }, String(v), v === current ? [' ', h('span', { class: 'st st-current' }, t('gr.current'))] : null),
        h('td', { class: 'nowrap' }, fmtTime(b.created)),
        h('td', {}, asText(b.author)),
        h('td', { class: 'message-cell' },
          rollbackOf ? [h('span', { class: 'st st-rollback rollback-of' }, t('gr.rollback_of', { n: rollbackOf })), ' '] : null,
          shortText(asText(b.message), 120)),
        h('td', { class: 'mono nowrap' }, h('span', { title: sha }, sha.slice(0, 12) + (sha.length > 12 ? '…' : ''))));
      if (manage) tr.appendChild(h('td', {}, v !== current && v >= 1 && v < current ? rollbackButton(v) : ''));
      return tr;
    });
    const historyBox = h('section', { class: 'panel' }, h('h2', {}, t('gr.history')),
      history.length ? h('div', { class: 'wrap' }, h('table', { id: 'group-history' },
        h('thead', {}, h('tr', {}, historyHeaders.map((x) => h('th', {}, x)))),
        h('tbody', {}, historyRows)))
        : h('p', { class: 'muted', id: 'group-history-empty' }, t('gr.no_history')));

    if (!show(alive,
      h('p', {}, link('/groups', t('gr.back'))),
      h('h1', { id: 'group-title' }, t('gr.group', { name: asText(st.group) || name })),
      facts, status, historyBox)) return;
    keyHandler = (e) => {
      switch (e.key) {
        case 'Escape': case 'Backspace': case 'u': location.hash = '#/groups'; return true;
        default: return false;
      }
    };
  }

  // ---------------------------------------------------------------------------------------
  // Compliance
  const KNOWN_AGENCY_FIELDS = new Set(['agency', 'framework', 'agents', 'pass', 'fail', 'error', 'not_applicable', 'waived',
    'not_checked', 'score', 'controls_met', 'controls', 'failing', 'failing_not_listed', 'trend', 'self_assessment',
    'policies', 'per_policy', 'by_agent', 'per_agent', 'agent_list', 'groups', 'framework_known', 'systems', 'unassigned']);

  // An array of objects as a table of their keys (fields added later show without new code):
  // the usual keys first, nested lists as their length, nested objects as "key: value" pairs.
  const KEY_ORDER = ['id', 'policy', 'group', 'host', 'agent_id', 'check', 'title', 'verdict', 'status', 'state', 'result',
    'score', 'pass', 'fail', 'error', 'not_applicable', 'waived', 'not_checked'];
  function cellText(v) {
    if (Array.isArray(v) && v.some((x) => x && typeof x === 'object')) return String(v.length);
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return flatten(v).map(([k, x]) => k + ': ' + asText(x)).join('; ');
    }
    return asText(v);
  }
  function genericTable(items, id) {
    const rows = items.filter((x) => x && typeof x === 'object');
    if (!rows.length) return h('p', { class: 'muted' }, items.map(asText).join(', ') || t('none'));
    const keys = [];
    // A `key_vi` is the Vietnamese of `key`: one column, in the reader's language.
    for (const r of rows) for (const k of Object.keys(r)) if (!keys.includes(k) && !(k.endsWith('_vi') && k.slice(0, -3) in r)) keys.push(k);
    const rank = (k) => { const i = KEY_ORDER.indexOf(k); return i < 0 ? KEY_ORDER.length : i; };
    keys.sort((a, b) => rank(a) - rank(b));
    return table(keys, rows.map((r) => keys.map((k) => {
      const v = lang === 'vi' && typeof r[k + '_vi'] === 'string' ? r[k + '_vi'] : r[k];
      if (k === 'score' && typeof v === 'number') return pct(v);
      if ((k === 'status' || k === 'result') && typeof v === 'string') return h('span', { class: 'st st-' + v.replace(/[^a-z_]/g, '') }, t('co.' + v) !== 'co.' + v ? t('co.' + v) : v);
      const text = cellText(v);
      // Long values (notes, sources) stay whole in the tooltip; the table stays readable.
      return text.length > 80 ? h('span', { title: text }, text.slice(0, 79) + '…') : text;
    })), { id });
  }

  function trendPoints(trend) {
    if (!Array.isArray(trend)) return [];
    return trend.filter((p) => p && typeof p.score === 'number').map((p) => ({
      label: asText(p.month || p.period || p.date || p.time || '').slice(0, 10), value: p.score }));
  }

  async function pageCompliance(params, alive) {
    const all = await api('GET', '/api/v1/compliance');
    const onlyAgency = params.get('agency') || '';
    const onlyAgent = params.get('agent') || '';
    const list = onlyAgency ? all.filter((c) => c.agency === onlyAgency) : all;
    const agencySel = h('select', { id: 'co-agency' }, [['', t('al.any')], ...all.map((c) => [c.agency, c.agency])].map(([v, l]) => {
      const o = h('option', { value: v }, l); if (v === onlyAgency) o.selected = true; return o;
    }));
    const agentIds = [...new Set(list.flatMap((c) => (c.failing || []).map((f) => f.agent_id)))].sort();
    const agentSel = h('select', { id: 'co-agent' }, [['', t('co.all_agents')], ...agentIds.map((x) => [x, x])].map(([v, l]) => {
      const o = h('option', { value: v }, l); if (v === onlyAgent) o.selected = true; return o;
    }));
    const go = () => { location.hash = '#/compliance' + qs({ agency: agencySel.value, agent: agentSel.value }); };
    agencySel.addEventListener('change', () => { agentSel.value = ''; go(); });
    agentSel.addEventListener('change', go);

    const sections = list.map((c) => {
      const counts = h('div', { class: 'counts' },
        ['pass', 'fail', 'error', 'not_applicable', 'waived', 'not_checked'].filter((k) => typeof c[k] === 'number').map((k) =>
          h('span', { class: 'count-' + k }, h('b', {}, String(c[k])), ' ' + t('co.' + k))),
        typeof c.agents === 'number' ? h('span', {}, h('b', {}, String(c.agents)), ' ' + t('co.agents')) : null,
        Array.isArray(c.controls) ? h('span', {}, h('b', {}, String(c.controls_met ?? 0) + '/' + c.controls.length), ' ' + t('co.controls_met')) : null);
      const reportHref = '/api/v1/reports/compliance' + qs({ agency: c.agency, format: 'html', lang });
      const head = h('div', { class: 'agency-head' },
        h('h2', {}, c.agency),
        h('span', { class: 'score ' + scoreClass(c.score), title: t('co.score') }, typeof c.score === 'number' ? pct(c.score) : t('co.no_score')),
        h('span', { class: 'muted', title: txt(c, 'framework_title') }, t('co.framework') + ': ' + asText(c.framework)),
        h('a', { href: reportHref, target: '_blank', rel: 'noopener noreferrer', class: 'btn report-link' }, t('co.report')));

      const failing = (Array.isArray(c.failing) ? c.failing : []).filter((f) => !onlyAgent || f.agent_id === onlyAgent);
      // Per agent: failing checks counted.
      const perAgent = {};
      for (const f of (c.failing || [])) {
        const k = f.agent_id + '\u0000' + (f.host || '');
        perAgent[k] = (perAgent[k] || 0) + 1;
      }
      const parts = [head, counts];
      // Agency → system (level) → host.
      const systems = Array.isArray(c.systems) ? c.systems : [];
      const unassigned = c.unassigned && Array.isArray(c.unassigned.hosts) && c.unassigned.hosts.length ? c.unassigned : null;
      if (systems.length || unassigned) {
        const safe = c.agency.replace(/[^A-Za-z0-9_-]/g, '_');
        parts.push(h('div', { class: 'systems-part' }, h('h3', {}, t('sy.by_system')),
          h('p', { class: 'muted' }, t('sy.counts_note')),
          systems.map((sys) => systemSection(sys, [link('/systems/' + encodeURIComponent(sys.name), asText(sys.name)),
            ' (' + t('sy.level') + ' ' + asText(sys.level) + ')'], 'sa-' + safe + '-' + String(sys.name).replace(/[^A-Za-z0-9_-]/g, '_'))),
          unassigned ? systemSection(unassigned, t('sy.unassigned') + ' (' + t('sy.unassigned_note') + ')', 'sa-' + safe + '-unassigned') : null));
      }
      const trend = trendPoints(c.trend);
      if (trend.length) parts.push(h('h3', {}, t('co.trend')), lineChart(trend, 'trend-' + c.agency.replace(/[^A-Za-z0-9_-]/g, '_')));
      if (c.trend && !Array.isArray(c.trend) && typeof c.trend === 'object') {
        // Since a date: the score then and the results that changed.
        const before = c.trend.previous && c.trend.previous.score;
        parts.push(h('h3', {}, t('co.trend')), h('p', { class: 'trend-since' },
          fmtTime(c.trend.since) + ': ' + pct(before) + ' → ' + pct(c.score) +
          (typeof c.trend.score_change === 'number' ? ' (' + (c.trend.score_change >= 0 ? '+' : '') + pct(c.trend.score_change) + ')' : '')));
        if (Array.isArray(c.trend.changes) && c.trend.changes.length) parts.push(genericTable(c.trend.changes));
      }
      for (const [key, title] of [['policies', 'co.policies'], ['per_policy', 'co.policies'], ['groups', 'co.groups']]) {
        const list = c[key];
        if (!Array.isArray(list) || !list.length) continue;
        parts.push(h('h3', {}, t(title)));
        if (list.every((p) => p && typeof p.score === 'number')) {
          parts.push(scoreBars(list.map((p) => ({ label: p.title ? txt(p, 'title') : asText(p.group || p.policy || p.id), score: p.score }))));
        }
        parts.push(genericTable(list));
      }
      const byAgent = [c.agent_list, c.by_agent, c.per_agent].find((x) => Array.isArray(x)) || null;
      parts.push(h('h3', {}, t('co.by_agent')));
      if (byAgent && byAgent.length) {
        parts.push(genericTable(byAgent));
      } else if (Object.keys(perAgent).length) {
        parts.push(table([t('co.agent'), t('al.host'), t('co.failing_count')], Object.entries(perAgent).map(([k, n]) => {
          const [agent, host] = k.split('\u0000');
          return [link('/compliance' + qs({ agency: c.agency, agent }), agent), host, String(n)];
        })));
      } else {
        parts.push(h('p', { class: 'muted' }, t('none')));
      }
      if (Array.isArray(c.controls) && c.controls.length) {
        parts.push(h('h3', {}, t('co.controls')));
        parts.push(table([t('co.control'), t('co.title_col'), t('co.status'), t('co.pass'), t('co.fail')], c.controls.map((x) =>
          [h('span', { class: 'mono' }, asText(x.id)), txt(x, 'title'), h('span', { class: 'st st-' + asText(x.status).replace(/[^a-z_]/g, '') }, t('co.' + x.status)), asText(x.pass), asText(x.fail)]),
        { class: 'controls-table' }));
      }
      const failingTitle = t('co.failing') + ' (' + failing.length + ')';
      if (failing.length) {
        // Remediation shows when the collector gives it.
        const withFix = failing.some((f) => f.remediation);
        const headers = [t('co.agent'), t('co.check'), t('co.title_col'), t('co.level'), t('co.result'), t('co.evidence')];
        if (withFix) headers.push(t('co.remediation'));
        headers.push(t('al.time'));
        const box = h('details', { class: 'failing' }, h('summary', {}, h('h3', { class: 'inline' }, failingTitle)),
          table(headers, failing.map((f) => {
            const row = [h('span', { title: asText(f.agent_id) }, asText(f.host || f.agent_id)), h('span', { class: 'mono nowrap' }, asText(f.check)),
              txt(f, 'title'), asText(f.level), h('span', { class: 'st st-' + asText(f.result).replace(/[^a-z_]/g, '') }, t('co.' + f.result)),
              h('span', { class: 'mono' }, asText(f.evidence))];
            if (withFix) row.push(txt(f, 'remediation'));
            row.push(fmtTime(f.time));
            return row;
          }), { class: 'failing-table' }),
          c.failing_not_listed ? h('p', { class: 'muted' }, t('co.not_listed', { n: c.failing_not_listed })) : null);
        box.open = failing.length <= 15 || Boolean(onlyAgent || onlyAgency);
        parts.push(box);
      } else {
        parts.push(h('h3', {}, failingTitle), h('p', { class: 'muted' }, t('none')));
      }
      if (Array.isArray(c.self_assessment) && c.self_assessment.length) {
        const box = h('details', { class: 'failing' }, h('summary', {}, h('h3', { class: 'inline' }, t('co.self_assessment') + ' (' + c.self_assessment.length + ')')),
          genericTable(c.self_assessment, 'self-assessment-' + c.agency.replace(/[^A-Za-z0-9_-]/g, '_')));
        box.open = c.self_assessment.length <= 15 || Boolean(onlyAgency);
        parts.push(box);
      }
      // Fields this page does not know yet: shown plainly rather than dropped (empty lists left out).
      const facts = [];
      for (const [k, v] of Object.entries(c)) {
        if (KNOWN_AGENCY_FIELDS.has(k) || v === null || v === undefined) continue;
        if (Array.isArray(v)) {
          if (v.length) parts.push(h('h3', {}, k), genericTable(v));
        } else {
          facts.push(h('dt', {}, k), h('dd', { class: 'mono' }, cellText(v)));
        }
      }
      if (facts.length) parts.push(h('h3', {}, t('co.more')), h('dl', { class: 'facts' }, facts));
      return h('section', { class: 'panel agency', 'data-agency': c.agency }, parts);
    });
    show(alive, h('h1', {}, t('co.title')),
      h('div', { class: 'filters panel' }, h('label', {}, t('al.agency'), agencySel), h('label', {}, t('co.agent'), agentSel)),
      all.length ? h('section', { class: 'panel' }, h('h2', {}, t('ov.compliance')), scoreBars(all.map((c) => ({ label: c.agency, score: c.score })), 'chart-compliance')) : null,
      sections.length ? sections : h('p', { class: 'muted' }, t('none')));
  }

  // ---------------------------------------------------------------------------------------
  // Keyboard
  function toggleHelp() {
    const old = document.getElementById('help');
    if (old) { old.remove(); return; }
    const k = (x) => h('span', { class: 'kbd' }, x);
    document.body.appendChild(h('div', { class: 'help', id: 'help', role: 'dialog', 'aria-label': t('help.title') },
      h('h2', {}, t('help.title')),
      h('table', {}, h('tbody', {},
        [[[k('j'), ' ', k('k')], t('help.move')], [[k('Enter')], t('help.open')], [[k('a')], t('help.ack')],
          [[k('r')], t('help.resolve')], [[k('f')], t('help.fp')], [[k('n')], t('help.reopen')], [[k('s')], t('help.assign')],
          [[k('c')], t('help.comment')], [[k('Esc')], t('help.back')], [[k(']'), ' ', k('[')], t('help.pages')]]
          .map(([keys, what]) => h('tr', {}, h('td', {}, keys), h('td', {}, what))))),
      h('button', { type: 'button', class: 'btn', onclick: toggleHelp }, t('help.close'))));
  }

  document.addEventListener('keydown', (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const tag = (ev.target && ev.target.tagName) || '';
    if (tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT') {
      if (ev.key === 'Escape') ev.target.blur();
      return;
    }
    if (!session) return;
    if (ev.key === '?') { toggleHelp(); ev.preventDefault(); return; }
    if (ev.key === 'Escape' && document.getElementById('help')) { toggleHelp(); ev.preventDefault(); return; }
    if (keyHandler && keyHandler(ev)) ev.preventDefault();
  });

  // ---------------------------------------------------------------------------------------
  // Start: a session cookie may already be there.
  window.addEventListener('hashchange', render);
  document.documentElement.lang = lang;
  api('GET', '/api/v1/session').then((r) => {
    session = { user: r.user, role: r.role, agencies: r.agencies || [], csrf: r.csrf_token };
    render();
  }).catch(() => { session = null; render(); });
})();
