"""Every word the console shows, one mapping per language (English, Mandarin).

A page asks for a key (``t("now")``); a key missing from a language falls back to English,
and ``tests/test_console.py`` checks both languages have the same keys.

A table in code, not a YAML file per language as the callers' prompts are: these words
change with the templates that show them, are neither edited by ops nor spoken, linted for
placeholders or rendered to audio, and the key check keeps the languages in step.
"""

from __future__ import annotations

DEFAULT = "en"

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Hotline console", "switch": "中文",
        "now": "Now", "tree": "Tree", "report": "Report", "week": "Week",
        "callbacks": "Callbacks", "tickets": "Tickets", "calls": "Calls", "audit": "Audit",
        "login": "Log in", "logout": "Log out", "name": "Name", "password": "Password",
        "bad_login": "Wrong name or password.",
        "throttled": "Too many failed log-ins: try again in {minutes} minutes.",
        "delayed": "Too many failed log-ins for this name: try again in {seconds} s.",
        "busy": "Too many log-ins at once: try again in a moment.",
        "forbidden": "Your role does not show this page.",
        "times_in": "Times in {zone}.", "refreshes": "This page refreshes every {s} s.",
        "queue": "Queue", "waiting": "Waiting", "longest": "Longest wait",
        "expected": "Expected wait (model)", "observed": "Observed wait, last hour",
        "agents_planned": "Agents planned", "agents_talking": "Agents talking",
        "service_level": "Service level today", "answered_today": "answered today",
        "in_ivr": "Calls in the IVR now, by node", "node": "Node", "count": "Calls",
        "none": "None.",
        "your_caller": "Your caller", "no_caller": "You are not talking to a caller.",
        "language": "Language", "issue": "Issue", "verified": "Verified", "yes": "yes",
        "no": "no", "account": "Account", "tx_date": "Transaction date", "amount": "Amount",
        "ticket": "Ticket", "wait": "Wait", "recording": "Recording", "team": "Team",
        "version_served": "Version served", "ab_share": "A/B: share of new calls on B",
        "version_b": "B's version", "no_ab": "No A/B trial.", "traffic_today": "Traffic today",
        "no_picture": "No picture: {why}",
        "since": "From", "until": "Until", "version": "Version", "show": "Show",
        "all_versions": "all", "no_calls": "No calls in the period.",
        "period": "{calls}, the first at {first}, the last at {last}.",
        "csat_title": "Callers' verdict after an agent (1 to 5)",
        "csat_note": "Asked once the agent hung up; a caller who hangs up has not answered.",
        "csat_by": "By", "csat_which": "Which", "csat_all": "all calls", "csat_queues": "queue",
        "csat_agents": "agent", "csat_languages": "language", "csat_versions": "version",
        "csat_bridged": "Put through", "csat_asked": "Asked", "csat_answered": "Answered",
        "csat_share": "Answered, of those put through", "csat_mean": "Mean",
        "csat_comments": "Comments recorded",
        "week_title": "Expected wait of a caller who holds on, in minutes (ordinary week)",
        "week_note": "Grey: closed. Today's row and the current hour are outlined.",
        "today": "today", "holiday": "a public holiday",
        "week_holiday": "Today is {name}, a public holiday: it runs on the holiday hours "
                        "and {runs_as}'s traffic, in the row of its own at the bottom.",
        "week_workday": "Today is a make-up working day: it runs as {runs_as}, in the row of "
                        "its own at the bottom.",
        "requested": "Requested", "window": "Window", "number": "Number",
        "requests": "Requests", "outcome": "Outcome", "note": "Note", "done": "done",
        "failed": "failed", "marked": "Callback {id} marked {outcome}.",
        "gone": "That one is no longer open.", "reply_by": "Reply by", "status": "Status",
        "close": "Close", "closed_ticket": "Ticket {id} closed.", "filed": "Filed",
        "stage": "Stage", "move_to": "Move to", "move": "Move", "disputes": "Disputes",
        "result_en-US": "Result (English)", "result_zh-CN": "Result (Chinese)",
        "result_needed": "The result is sent by text message in the caller's language: "
                         "write it in both.",
        "moved_ticket": "Ticket {id} is now: {stage}.",
        "move_refused": "Ticket {id} was not moved: {why}.",
        "stage_registered": "registered", "stage_first_check": "first check",
        "stage_review": "review by the specialist team", "stage_investigation": "investigation",
        "stage_result_sent": "result sent", "stage_accepted": "accepted",
        "stage_closed": "closed",
        "find": "Find", "find_hint": "CallSid, or the last 4 digits of the account or phone",
        "bad_query": "Type a CallSid (CA...) or 4 digits.", "started": "Started",
        "from": "From", "result": "Result", "timeline": "Path of the call", "at": "At",
        "input": "Input", "said": "Said", "no_such_call": "No such call.",
        "who": "Who", "what": "What", "target": "Target", "detail": "Detail",
        "signed_in_as": "Signed in as {name} ({role})", "note_needed": "A note is required.",
        "notices": "Notices",
        "notices_note": "An incident notice is said once a call, in the caller's language, "
                        "to every caller who enters its scope between its start and its end: "
                        "the whole line right after the language choice, a node and its "
                        "branch, or a queue. An emergency switch also turns off its queue (the "
                        "whole line: every queue but the fraud line): callers are offered a "
                        "callback or the fraud line instead of being queued.",
        "no_notices": "No notice is active or to come.", "scope": "Scope",
        "switch_col": "Switch", "words": "Words", "emergency": "emergency",
        "notice_active": "active", "notice_upcoming": "to come", "notice_ended": "ended",
        "end_notice": "End now", "publish_notice": "Publish a notice", "publish": "Publish",
        "whole_line": "line (the whole line)", "start_now": "empty: now",
        "emergency_switch": "Emergency switch: callers are not queued",
        "ended_notices": "Ended lately", "ended_by": "ended by {name}",
        "notice_published": "Notice {id} published.", "notice_was_ended": "Notice {id} ended.",
        "notice_time_needed": "a time is required",
        "plan": "Plan",
        "plan_note": "A day of the whole centre, as ivr plan simulates it: callers walk the "
                     "tree into the queues, staffed as the traffic file says. Nothing is "
                     "written; each run takes a few seconds.",
        "plan_date": "Date", "plan_scale": "Scale", "plan_scale_note": "every hour's calls "
        "times this (Singles' Day: 3); at most {most}",
        "plan_tree_a": "served", "plan_tree_b": "A/B trial's B",
        "plan_notices": "Incident notices",
        "plan_notices_note": "Each notice ticked is said all day, whatever its own times, as "
                             "ivr tune --notice says it: where its scope is, and an emergency "
                             "switch turns its queues off.",
        "plan_answers": "Share of those who hear a notice that it answers (they hang up), 0 to 1",
        "plan_interval": "Interval", "plan_runs": "Runs", "plan_seed": "Seed",
        "plan_run": "Run the day", "plan_day": "The day", "plan_days": "Days",
        "plan_seeds": "Seeds", "plan_means": "counts are means per run",
        "plan_hotline": "Hotline: {calls} calls ({retrials} of them callers trying again): "
                        "{queued} reached a queue, {served} served by the tree, {hung_up} hung "
                        "up in the tree, {callback} booked a callback there.",
        "plan_agents": "Agents", "plan_offered": "Offered", "plan_answered": "Answered",
        "plan_abandoned": "Abandoned", "plan_sl": "Service level", "plan_asa": "ASA s",
        "plan_occupancy": "Occupancy", "plan_booked": "Callbacks booked",
        "plan_made": "Callbacks made", "plan_retrials": "Retrials", "plan_closed": "Found closed",
        "plan_all": "all", "plan_agent_hours": "For the day, agents are agent-hours staffed.",
        "plan_owed": "Callbacks owed at the end: {owed}; callers finding it closed: {closed}.",
        "plan_busy": "Another plan is running: try again in a few seconds.",
        "plan_bad_date": "Date: {value!r} is not a date (YYYY-MM-DD).",
        "plan_not_number": "{field}: {value!r} is not a number.",
        "plan_out_of_range_scale": "Scale: {value} is not over 0 and at most {high}.",
        "plan_out_of_range_runs": "Runs: {value} is not from {low} to {high}.",
        "plan_out_of_range_seed": "Seed: {value} is not from {low} to {high}.",
        "plan_out_of_range_answers": "Share answered: {value} is not from {low} to {high}.",
        "plan_bad_interval": "Interval: one of {choices} minutes.",
        "plan_bad_tree": "Tree: {value!r} is not a tree the line serves.",
        "plan_bad_notice": "Notice: {value!r} is not one of the notices offered.",
        "plan_notice_not_in_tree": "Notice {id}'s scope {scope} is not in tree {tree}: no "
                                   "caller would hear it.",
        "plan_too_many_calls": "That is {calls} calls to simulate over the runs; the page runs "
                               "at most {most} (ivr plan has no such limit).",
        # -- issue 24: the wallboard (Now), calls in words, labels in both languages --
        "day_mon": "Mon", "day_tue": "Tue", "day_wed": "Wed", "day_thu": "Thu",
        "day_fri": "Fri", "day_sat": "Sat", "day_sun": "Sun",
        "closed_queue": "closed", "opens_at": "opens {at}",
        "offered_today": "Offered today", "abandoned_today": "Abandoned today",
        "callbacks_owed": "Callbacks owed", "talking_planned": "Agents talking / planned",
        "sl_note": "Service level: callers answered within {s} s, of those answered or "
                   "abandoned (as the forecast counts it); callers are counted by when they "
                   "joined the queue.",
        "iv_title": "Today in 30-minute intervals: calls offered, answered and abandoned, "
                    "and the service level, against the forecast",
        "iv_desc": "Bars: callers who joined a queue, split into answered, abandoned and "
                   "the rest; dashes: forecast calls; dots: service level (right scale); "
                   "dashed line: forecast service level. The table below has every figure.",
        "iv_tip": "{start}–{end}: {offered} offered (forecast {forecast}), {answered} "
                  "answered, {abandoned} abandoned, service level {sl} (forecast {forecast_sl})",
        "iv_answered": "Answered", "iv_abandoned": "Abandoned",
        "iv_other": "Waiting or left for a callback", "iv_forecast": "Forecast calls",
        "iv_sl": "Service level", "iv_forecast_sl": "Forecast service level",
        "iv_heading": "Today, interval by interval",
        "iv_against": "Against the forecast of the traffic file (its calls, staffing and "
                      "model per hour): no plan from ivr plan is kept, so the forecast is "
                      "what is shown.",
        "iv_table": "The intervals as a table", "iv_start": "From", "iv_offered": "Offered",
        "iv_forecast_offered": "Forecast", "iv_forecast_sl_col": "Forecast service level",
        "heard": "Heard", "pressed": "Pressed", "to_queue": "to the queue: {queue}",
        "colon": ": ", "min_unit": "min",
        # issue 24, accessibility: words only a screen reader (or the keyboard) meets
        "a11y_skip": "Skip to the page's content", "a11y_pages": "Pages",
        "a11y_action": "Action", "a11y_note_for": "Note on callback {id}",
        "a11y_plan_picture": "Chart of the planned day per queue; its figures are in the "
                             "tables below.",
        # -- issue 24: the tree you can read, the report you can scan --------------------
        "tree_label": "The menu tree, with today's calls", "zoom_in": "Zoom in",
        "zoom_out": "Zoom out", "zoom_fit": "Fit the whole tree", "zoom_fit_short": "Fit",
        "zoom_hint": "Drag to pan; + and - zoom, 0 fits (click the picture first).",
        "report_asked": "Asked for: {since} to {until}.", "report_first": "the first call",
        "report_now": "now",
        "funnel_title": "Where callers hang up, node by node along the main paths",
        "funnel_reached": "calls that reached the node", "funnel_hung_up": "hung up there",
        "funnel_row": "{node}: {calls} reached it, {hangups} hung up there ({share})",
        "option": "Option", "share": "Share",
        # -- end of issue 24's words ------------------------------------------------------
    },
    "zh": {
        "title": "热线控制台", "switch": "English",
        "now": "实时", "tree": "菜单树", "report": "报告", "week": "每周",
        "callbacks": "回拨", "tickets": "工单", "calls": "通话", "audit": "审计",
        "login": "登录", "logout": "退出", "name": "用户名", "password": "密码",
        "bad_login": "用户名或密码错误。",
        "throttled": "登录失败次数过多：请 {minutes} 分钟后再试。",
        "delayed": "该用户名登录失败次数过多：请 {seconds} 秒后再试。",
        "busy": "同时登录的人数过多：请稍后再试。",
        "forbidden": "您的角色无权查看此页面。",
        "times_in": "时间为 {zone} 时间。", "refreshes": "本页每 {s} 秒刷新一次。",
        "queue": "队列", "waiting": "等待中", "longest": "最长等待",
        "expected": "预计等待（模型）", "observed": "实际等待（最近一小时）",
        "agents_planned": "计划坐席", "agents_talking": "通话中坐席",
        "service_level": "今日服务水平", "answered_today": "今日已接听",
        "in_ivr": "当前在语音菜单中的通话（按节点）", "node": "节点", "count": "通话数",
        "none": "无。",
        "your_caller": "您的来电者", "no_caller": "您当前没有在通话。",
        "language": "语言", "issue": "问题", "verified": "已验证", "yes": "是",
        "no": "否", "account": "账户", "tx_date": "交易日期", "amount": "金额",
        "ticket": "工单", "wait": "等待", "recording": "录音", "team": "团队",
        "version_served": "当前版本", "ab_share": "A/B：新来电进入 B 的比例",
        "version_b": "B 的版本", "no_ab": "没有 A/B 测试。", "traffic_today": "今日流量",
        "no_picture": "无法绘图：{why}",
        "since": "从", "until": "到", "version": "版本", "show": "显示",
        "all_versions": "全部", "no_calls": "该时段没有通话。",
        "period": "共 {n} 个通话，第一个在 {first}，最后一个在 {last}。",
        "csat_title": "客服代表服务后的来电者评价（1 到 5 分）",
        "csat_note": "在客服代表挂机后询问；来电者挂机即视为未作答。",
        "csat_by": "维度", "csat_which": "名称", "csat_all": "全部通话", "csat_queues": "队列",
        "csat_agents": "客服代表", "csat_languages": "语言", "csat_versions": "版本",
        "csat_bridged": "已接通", "csat_asked": "已询问", "csat_answered": "已作答",
        "csat_share": "作答率（占已接通）", "csat_mean": "平均分",
        "csat_comments": "录音留言",
        "week_title": "持续等待的来电者的预计等待时间（分钟，普通一周）",
        "week_note": "灰色：不营业。今天一行和当前小时已加框。",
        "today": "今天", "holiday": "法定节假日",
        "week_holiday": "今天是{name}（法定节假日）：按节假日服务时间和{runs_as}的话务量运行，"
                        "见最下方单独一行。",
        "week_workday": "今天是调休上班日：按{runs_as}运行，见最下方单独一行。",
        "requested": "申请时间", "window": "时段", "number": "号码",
        "requests": "次数", "outcome": "结果", "note": "备注", "done": "已完成",
        "failed": "失败", "marked": "回拨 {id} 已标记为{outcome}。",
        "gone": "该项已不再待处理。", "reply_by": "答复期限", "status": "状态",
        "close": "关闭", "closed_ticket": "工单 {id} 已关闭。", "filed": "创建时间",
        "stage": "阶段", "move_to": "转到", "move": "提交", "disputes": "异议次数",
        "result_en-US": "处理结果（英文）", "result_zh-CN": "处理结果（中文）",
        "result_needed": "处理结果将按来电人的语言以短信发送：请填写两种语言。",
        "moved_ticket": "工单 {id} 现在的阶段：{stage}。",
        "move_refused": "工单 {id} 未能转移：{why}。",
        "stage_registered": "已登记", "stage_first_check": "初步核实",
        "stage_review": "专门团队审核", "stage_investigation": "调查中",
        "stage_result_sent": "结果已发送", "stage_accepted": "已接受",
        "stage_closed": "已结案",
        "find": "查找", "find_hint": "CallSid，或账户/电话的后 4 位",
        "bad_query": "请输入 CallSid（CA...）或 4 位数字。", "started": "开始",
        "from": "来电号码", "result": "结果", "timeline": "通话路径", "at": "时间",
        "input": "输入", "said": "播报", "no_such_call": "没有这个通话。",
        "who": "操作人", "what": "操作", "target": "对象", "detail": "详情",
        "signed_in_as": "已登录：{name}（{role}）", "note_needed": "请填写备注。",
        "notices": "通知",
        "notices_note": "事件通知在开始与结束时间之间，对进入其范围的来电者每通电话播报一次，"
                        "使用来电者的语言：整条热线在选择语言后播报；节点及其分支；或某个队列。"
                        "紧急开关还会关闭该队列（整条热线：除反诈骗专线外的所有队列）："
                        "来电者不再排队，而是可以预约回电或转接反诈骗专线。",
        "no_notices": "没有生效中或待生效的通知。", "scope": "范围",
        "switch_col": "开关", "words": "内容", "emergency": "紧急",
        "notice_active": "生效中", "notice_upcoming": "待生效", "notice_ended": "已结束",
        "end_notice": "立即结束", "publish_notice": "发布通知", "publish": "发布",
        "whole_line": "line（整条热线）", "start_now": "留空：立即",
        "emergency_switch": "紧急开关：来电者不排队",
        "ended_notices": "最近结束", "ended_by": "由 {name} 结束",
        "notice_published": "通知 {id} 已发布。", "notice_was_ended": "通知 {id} 已结束。",
        "notice_time_needed": "请填写时间",
        "plan": "排班模拟",
        "plan_note": "按 ivr plan 的方式模拟整个中心的一天：来电者走完语音菜单进入队列，坐席按"
                     "话务文件排班。不会写入任何数据；每次运行需要几秒钟。",
        "plan_date": "日期", "plan_scale": "倍数", "plan_scale_note": "每小时来电量乘以该倍数"
        "（双十一：3）；最多 {most}",
        "plan_tree_a": "当前版本", "plan_tree_b": "A/B 测试的 B",
        "plan_notices": "事件通知",
        "plan_notices_note": "勾选的通知整天播报（不论其自身的起止时间），与 ivr tune --notice "
                             "相同：在其范围内播报，紧急开关会关闭其队列。",
        "plan_answers": "听到通知后即获解答（挂机）的来电者比例，0 到 1",
        "plan_interval": "时段", "plan_runs": "运行次数", "plan_seed": "随机种子",
        "plan_run": "模拟这一天", "plan_day": "这一天", "plan_days": "日期",
        "plan_seeds": "随机种子", "plan_means": "数量为每次运行的平均值",
        "plan_hotline": "热线：{calls} 个来电（其中 {retrials} 个为再次来电）：{queued} 进入队列，"
                        "{served} 由语音菜单完成，{hung_up} 在菜单中挂机，{callback} 在菜单中预约回电。",
        "plan_agents": "坐席", "plan_offered": "进线", "plan_answered": "接听",
        "plan_abandoned": "放弃", "plan_sl": "服务水平", "plan_asa": "平均应答秒数",
        "plan_occupancy": "占用率", "plan_booked": "预约回电",
        "plan_made": "已回电", "plan_retrials": "再次来电", "plan_closed": "遇到下班",
        "plan_all": "合计", "plan_agent_hours": "全天一行中的坐席为排班坐席小时数。",
        "plan_owed": "结束时尚欠回电：{owed}；遇到下班的来电者：{closed}。",
        "plan_busy": "另一个模拟正在运行：请几秒钟后再试。",
        "plan_bad_date": "日期：{value!r} 不是日期（YYYY-MM-DD）。",
        "plan_not_number": "{field}：{value!r} 不是数字。",
        "plan_out_of_range_scale": "倍数：{value} 须大于 0 且不超过 {high}。",
        "plan_out_of_range_runs": "运行次数：{value} 须在 {low} 到 {high} 之间。",
        "plan_out_of_range_seed": "随机种子：{value} 须在 {low} 到 {high} 之间。",
        "plan_out_of_range_answers": "解答比例：{value} 须在 {low} 到 {high} 之间。",
        "plan_bad_interval": "时段：须为 {choices} 分钟之一。",
        "plan_bad_tree": "菜单树：{value!r} 不是本热线使用的菜单树。",
        "plan_bad_notice": "通知：{value!r} 不在可选的通知中。",
        "plan_notice_not_in_tree": "通知 {id} 的范围 {scope} 不在菜单树 {tree} 中：没有来电者会听到。",
        "plan_too_many_calls": "这需要模拟 {calls} 个来电；本页面最多模拟 {most} 个（ivr plan 没有此限制）。",
        # -- issue 24: the wallboard (Now), calls in words, labels in both languages --
        "day_mon": "周一", "day_tue": "周二", "day_wed": "周三", "day_thu": "周四",
        "day_fri": "周五", "day_sat": "周六", "day_sun": "周日",
        "closed_queue": "已关闭", "opens_at": "{at} 开放",
        "offered_today": "今日进线", "abandoned_today": "今日放弃",
        "callbacks_owed": "待回拨", "talking_planned": "通话中 / 计划坐席",
        "sl_note": "服务水平：在 {s} 秒内接听的来电者占已接听和已放弃来电者的比例（与预测的算法"
                   "相同）；来电者按进入队列的时间计。",
        "iv_title": "今日每 30 分钟：进线、接听、放弃的来电和服务水平，与预测对比",
        "iv_desc": "柱：进入队列的来电者，分为已接听、已放弃和其余；短虚线：预测来电；圆点："
                   "服务水平（右侧刻度）；虚线：预测服务水平。下方表格列出全部数字。",
        "iv_tip": "{start}–{end}：进线 {offered}（预测 {forecast}），接听 {answered}，"
                  "放弃 {abandoned}，服务水平 {sl}（预测 {forecast_sl}）",
        "iv_answered": "已接听", "iv_abandoned": "已放弃",
        "iv_other": "等待中或改为回拨", "iv_forecast": "预测来电",
        "iv_sl": "服务水平", "iv_forecast_sl": "预测服务水平",
        "iv_heading": "今日各时段",
        "iv_against": "对比的是话务文件的预测（每小时的来电、排班和模型）：没有保存 ivr plan "
                      "的计划，因此显示的是预测。",
        "iv_table": "各时段表格", "iv_start": "开始", "iv_offered": "进线",
        "iv_forecast_offered": "预测", "iv_forecast_sl_col": "预测服务水平",
        "heard": "听到", "pressed": "按键", "to_queue": "转入队列：{queue}",
        "colon": "：", "min_unit": "分钟",
        # issue 24, accessibility: words only a screen reader (or the keyboard) meets
        "a11y_skip": "跳到页面内容", "a11y_pages": "页面",
        "a11y_action": "操作", "a11y_note_for": "回电 {id} 的备注",
        "a11y_plan_picture": "各队列计划日的图表；数字见下方表格。",
        # -- issue 24: the tree you can read, the report you can scan --------------------
        "tree_label": "菜单树及今日来电", "zoom_in": "放大", "zoom_out": "缩小",
        "zoom_fit": "全图：显示整棵菜单树", "zoom_fit_short": "全图",
        "zoom_hint": "拖动以平移；按 + 和 - 缩放，按 0 显示全图（请先点击图片）。",
        "report_asked": "查询范围：{since} 至 {until}。", "report_first": "第一个通话",
        "report_now": "现在",
        "funnel_title": "来电者在哪里挂机：沿主要路径逐个节点",
        "funnel_reached": "到达该节点的通话", "funnel_hung_up": "在此挂机",
        "funnel_row": "{node}：{n} 个通话到达，{hangups} 个在此挂机（{share}）",
        "option": "选项", "share": "占比",
        # -- end of issue 24's words ------------------------------------------------------
    },
}
# -- issue 24: the report's own words in Mandarin ---------------------------------------
#: ``ivr report``'s titles (by table name), then its column headers and row labels (by
#: the English ``ivr.tuning.report_render`` writes), in Mandarin for the console's report;
#: a word missing here stays as the report wrote it
REPORT_TITLES_ZH: dict[str, str] = {
    "summary": "概要", "funnel": "来电者在哪里挂机", "nodes": "各节点（进入：进入次数；通话：不同通话数）",
    "options": "所选选项", "queues": "各队列（从接听到进入队列的时间；放弃率与 Erlang A 预测对照）",
    "paths": "进入各队列的常见路径", "speech": "语音菜单（通话数；语音转接：识别成功或按 1 确认）",
    "speech_targets": "语音转接的目标（每个菜单前 5 个）",
    "notices": "事件通知（听到各通知的通话及其后续）", "complaints": "本期提交的投诉工单（按阶段）",
    "versions": "按菜单树版本", "languages": "按语言",
}
REPORT_ZH: dict[str, str] = {
    # column headers
    "figure": "指标", "value": "数值", "node": "节点", "entered": "进入", "calls": "通话",
    "options": "选项", "invalid": "无效按键", "no input": "无输入", "repeat": "重听", "back": "返回",
    "hang-ups": "挂机", "median s": "中位停留（秒）", "option": "选项", "count": "次数",
    "share": "占比", "queue": "队列", "to queue p50 s": "进入队列 p50（秒）", "p90 s": "p90（秒）",
    "answered": "已接听", "hung up waiting": "等待中挂机", "callback": "回拨", "refused": "被拒",
    "other": "其他", "abandonment": "放弃率", "predicted": "预测", "predicted wait s": "预测等待（秒）",
    "path": "路径", "menu": "菜单", "reached": "到达", "spoke": "说话", "spoke %": "说话占比",
    "matched": "识别成功", "asked to confirm": "请求确认", "confirmed": "已确认", "declined": "已否认",
    "re-asked": "重新询问", "to keypad": "转按键", "routed by speech": "语音转接",
    "routed % of spoke": "语音转接占说话比例", "target": "目标", "notice": "通知", "scope": "范围",
    "emergency": "紧急", "heard": "听到", "went on to a queue": "继续进入队列", "by queue": "按队列",
    "hung up (deflected)": "挂机（已分流）", "in progress": "进行中", "stage": "阶段",
    "tickets now": "当前工单", "left it": "已离开", "mean hours in it": "平均停留（小时）",
    # row labels of the summary and the splits
    "contained": "自助完成", "containment rate": "自助完成率",
    "verification attempted": "尝试验证", "verification verified": "验证成功",
    "verification failed": "验证失败", "verification locked": "验证锁定",
    "verification skipped": "跳过验证", "verification wrong": "验证输错",
    "misroutes: reached a queue through the fallback": "误转：经兜底进入队列",
    "misroutes: went back (9) from a sub-menu": "误转：从子菜单返回（9）",
    "misroutes fallback": "误转：兜底", "misroutes back": "误转：返回",
    "known callers offered the way back": "向老来电者提供快捷返回",
    "  took it (pressed 1)": "  已使用（按 1）", "  their time to queue p50 s": "  其进入队列 p50（秒）",
    "results sent": "已发送结果", "  after their reply-by time": "  超过答复期限",
    "overdue now, no result": "现已逾期、尚无结果", "disputes": "异议", "dispute rate": "异议率",
    # a queue's rows ({queue}: its name in the console's language)
    "{queue} calls": "{queue}：来电", "{queue} time to queue p50 s": "{queue}：进入队列 p50（秒）",
    "{queue} hung up waiting": "{queue}：等待中挂机", "  fallback into {queue}": "  经兜底进入{queue}",
}
# -- end of issue 24's Mandarin report words ---------------------------------------------

#: the tree's picture in Mandarin: its own words (``ivr.tuning.graph.WORDS``'s keys) and
#: its title; node ids stay as the tree file writes them
GRAPH_ZH: dict[str, str] = {
    "kind_menu": "菜单", "kind_verify": "身份验证", "kind_prepare": "准备材料",
    "kind_collect": "收集信息", "kind_service": "自助服务", "kind_record": "录音",
    "kind_queue": "排队", "kind_say": "播报", "kind_hangup": "挂机",
    "edge_next": "下一步", "edge_back": "9：返回", "edge_fallback": "兜底",
    "edge_on_fail": "验证失败", "edge_on_locked": "已锁定", "edge_no_input": "无输入",
    "edge_verified": "尚未验证", "edge_dispute": "1：对结果提出异议",
    "verified": "需验证", "entered": "进入 {n} · 挂机 {share}", "not_entered": "无人进入",
    "legend": "图例",
    "legend_lines": "── 选项（按键：说明）、下一步\n╌╌ 失败：无输入、兜底、验证失败、锁定\n"
                    "┈┈ 返回（9）；灰色：先到身份验证（之后回到原处）\n"
                    "蓝色：在语音菜单说出，直达更深的节点（说：一句话）",
    "legend_stats": "线宽、%：进入该节点的来电走这条线的比例（蓝色：语音转到此处）\n"
                    "红色：在此挂机的比例（{share} 及以上为全红）",
    "title": "{source} · {calls} 通来电 · 连续失败 {failures} 次后转至 {fallback}",
}

#: the languages the switch offers
LANGS = tuple(TEXT)


def text(lang: str, key: str, **values: object) -> str:
    """The words for ``key`` in ``lang`` (English when missing), with ``values`` filled in."""
    words = TEXT.get(lang, TEXT[DEFAULT]).get(key) or TEXT[DEFAULT][key]
    return words.format(**values) if values else words
