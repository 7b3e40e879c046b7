"""All patient- and operator-facing text, English and Simplified Chinese side by side.

The PHQ-9 and GAD-7 wording follows the published English forms and their standard
Simplified Chinese translations (Pfizer's PHQ screeners: free to reproduce and translate).
No text here names a diagnosis: the kiosk never shows a result to the patient.
"""

from __future__ import annotations

LANGUAGES = ("en", "zh-Hans")

MESSAGES: dict[str, dict[str, str]] = {
    # -- common ---------------------------------------------------------------------------
    "app.title": {"en": "Emoface screening station", "zh-Hans": "Emoface 筛查站"},
    "btn.start": {"en": "Start", "zh-Hans": "开始"},
    "btn.accept": {"en": "I agree", "zh-Hans": "我同意"},
    "btn.decline": {"en": "No, thank you", "zh-Hans": "不，谢谢"},
    "btn.continue": {"en": "Continue", "zh-Hans": "继续"},
    "btn.stop": {"en": "Stop", "zh-Hans": "停止"},
    "btn.skip": {"en": "Skip questionnaires", "zh-Hans": "跳过问卷"},
    "btn.back": {"en": "Back", "zh-Hans": "返回"},
    "btn.done": {"en": "Done", "zh-Hans": "完成"},
    "btn.cancel": {"en": "Cancel", "zh-Hans": "取消"},
    "btn.language": {"en": "中文", "zh-Hans": "English"},
    # -- welcome --------------------------------------------------------------------------
    "welcome.title": {"en": "Welcome", "zh-Hans": "欢迎"},
    "welcome.body": {
        "en": "This station watches how your face responds to a few short videos. "
        "It takes about {minutes} minutes. Touch Start when you are ready.",
        "zh-Hans": "本设备会观察您的面部对几段短视频的反应。\n大约需要 {minutes} 分钟。准备好后请点击“开始”。",
    },
    # -- consent --------------------------------------------------------------------------
    "consent.title": {"en": "Before we begin", "zh-Hans": "开始之前"},
    "consent.body": {
        "en": "- The camera measures the movement of your face while you watch short videos.\n"
        "- No picture or video of you is stored or leaves this device. Only numbers "
        "(a summary of facial movements) are sent, encrypted, to the clinic.\n"
        "- The session takes about {minutes} minutes.\n"
        "- You can stop at any time by touching Stop.\n"
        "- This is not a diagnosis. A clinician will look at the summary.",
        "zh-Hans": "- 在您观看短视频时，摄像头会测量您面部的活动。\n"
        "- 您的任何照片或视频都不会被保存，也不会离开本设备。"
        "只有数字（面部活动的摘要）会被加密后发送给诊所。\n"
        "- 整个过程大约需要 {minutes} 分钟。\n"
        "- 您可以随时点击“停止”结束。\n"
        "- 这不是诊断。医生会查看摘要。",
    },
    # -- camera check ---------------------------------------------------------------------
    "camera.title": {"en": "Camera check", "zh-Hans": "摄像头检查"},
    "camera.searching": {"en": "Looking for your face...", "zh-Hans": "正在寻找您的面部……"},
    "camera.no_face": {"en": "Please sit in front of the screen", "zh-Hans": "请坐在屏幕正前方"},
    "camera.several_faces": {
        "en": "Only one person in front of the camera, please",
        "zh-Hans": "摄像头前请只留一人",
    },
    "camera.move_closer": {"en": "Please move a little closer", "zh-Hans": "请再靠近一点"},
    "camera.move_back": {"en": "Please sit a little further back", "zh-Hans": "请稍微向后坐一点"},
    "camera.move_left": {
        "en": "Please move a little to your left",
        "zh-Hans": "请向您的左边移动一点",
    },
    "camera.move_right": {
        "en": "Please move a little to your right",
        "zh-Hans": "请向您的右边移动一点",
    },
    "camera.head_turned": {"en": "Please look straight at the screen", "zh-Hans": "请正对屏幕"},
    "camera.blurred": {"en": "Please hold still", "zh-Hans": "请保持不动"},
    "camera.too_dark": {
        "en": "More light is needed: please face a lamp or a window",
        "zh-Hans": "光线不足，请面向灯光或窗户",
    },
    "camera.too_bright": {
        "en": "Too bright: please move out of direct light",
        "zh-Hans": "太亮了，请避开直射光",
    },
    "camera.good": {"en": "Good - hold this position", "zh-Hans": "很好，请保持这个姿势"},
    "camera.ready": {"en": "Ready. Touch Continue.", "zh-Hans": "准备就绪，请点击“继续”。"},
    "camera.unavailable": {
        "en": "The camera is not available. Please call a member of staff.",
        "zh-Hans": "摄像头不可用。请联系工作人员。",
    },
    # -- questionnaires -------------------------------------------------------------------
    "q.progress": {"en": "Question {n} of {total}", "zh-Hans": "第 {n} 题，共 {total} 题"},
    "q.intro": {
        "en": "A few questions about the last two weeks. Touch the answer that fits best.",
        "zh-Hans": "以下问题是关于过去两周的情况。请点击最符合的答案。",
    },
    "q.stem": {
        "en": "Over the last 2 weeks, how often have you been bothered by:",
        "zh-Hans": "在过去两周里，您有多少时候受到以下问题困扰？",
    },
    "q.answer.0": {"en": "Not at all", "zh-Hans": "完全不会"},
    "q.answer.1": {"en": "Several days", "zh-Hans": "好几天"},
    "q.answer.2": {"en": "More than half the days", "zh-Hans": "一半以上的天数"},
    "q.answer.3": {"en": "Nearly every day", "zh-Hans": "几乎每天"},
    "phq9.title": {"en": "Questionnaire 1 (PHQ-9)", "zh-Hans": "问卷一（PHQ-9）"},
    "phq9.1": {
        "en": "Little interest or pleasure in doing things",
        "zh-Hans": "做事时提不起劲或没有兴趣",
    },
    "phq9.2": {"en": "Feeling down, depressed, or hopeless", "zh-Hans": "感到心情低落、沮丧或绝望"},
    "phq9.3": {
        "en": "Trouble falling or staying asleep, or sleeping too much",
        "zh-Hans": "入睡困难、睡不安稳或睡眠过多",
    },
    "phq9.4": {"en": "Feeling tired or having little energy", "zh-Hans": "感觉疲倦或没有活力"},
    "phq9.5": {"en": "Poor appetite or overeating", "zh-Hans": "食欲不振或吃太多"},
    "phq9.6": {
        "en": "Feeling bad about yourself - or that you are a failure\nor have let yourself or your family down",
        "zh-Hans": "觉得自己很糟，或觉得自己很失败，\n或让自己或家人失望",
    },
    "phq9.7": {
        "en": "Trouble concentrating on things, such as reading\nthe newspaper or watching television",
        "zh-Hans": "对事物专注有困难，例如阅读报纸或看电视时",
    },
    "phq9.8": {
        "en": "Moving or speaking so slowly that other people could have noticed?\n"
        "Or the opposite - being so fidgety or restless that you have "
        "been moving around a lot more than usual",
        "zh-Hans": "动作或说话速度缓慢到别人已经察觉？\n或正好相反，烦躁或坐立不安、动来动去的情况比平常更多",
    },
    "phq9.9": {
        "en": "Thoughts that you would be better off dead\nor of hurting yourself in some way",
        "zh-Hans": "有不如死掉或用某种方式伤害自己的念头",
    },
    "gad7.title": {"en": "Questionnaire 2 (GAD-7)", "zh-Hans": "问卷二（GAD-7）"},
    "gad7.1": {"en": "Feeling nervous, anxious, or on edge", "zh-Hans": "感觉紧张、焦虑或急切"},
    "gad7.2": {
        "en": "Not being able to stop or control worrying",
        "zh-Hans": "不能够停止或控制担忧",
    },
    "gad7.3": {
        "en": "Worrying too much about different things",
        "zh-Hans": "对各种各样的事情担忧过多",
    },
    "gad7.4": {"en": "Trouble relaxing", "zh-Hans": "很难放松下来"},
    "gad7.5": {
        "en": "Being so restless that it is hard to sit still",
        "zh-Hans": "由于不安而无法静坐",
    },
    "gad7.6": {"en": "Becoming easily annoyed or irritable", "zh-Hans": "变得容易烦恼或急躁"},
    "gad7.7": {
        "en": "Feeling afraid, as if something awful might happen",
        "zh-Hans": "感到似乎将有可怕的事情发生而害怕",
    },
    # -- playback -------------------------------------------------------------------------
    "play.baseline": {"en": "Please relax and look at the screen", "zh-Hans": "请放松，看着屏幕"},
    "play.rest": {"en": "Short pause", "zh-Hans": "短暂休息"},
    "stop.title": {"en": "Stop the session?", "zh-Hans": "要停止本次检测吗？"},
    "stop.body": {
        "en": "If you stop now, the session is recorded as not finished.",
        "zh-Hans": "如果现在停止，本次检测将被记录为未完成。",
    },
    "btn.resume": {"en": "Keep going", "zh-Hans": "继续观看"},
    "btn.stop_now": {"en": "Stop now", "zh-Hans": "立即停止"},
    # -- processing / thanks --------------------------------------------------------------
    "processing.title": {"en": "One moment...", "zh-Hans": "请稍候……"},
    "processing.body": {
        "en": "Saving the session summary securely.",
        "zh-Hans": "正在安全保存检测摘要。",
    },
    "thanks.title": {"en": "Thank you", "zh-Hans": "谢谢您"},
    "thanks.body": {
        "en": "You have finished. No picture of you was kept.\n"
        "A member of staff will talk with you about the next step.",
        "zh-Hans": "您已完成。您的任何照片都没有被保存。\n工作人员会与您沟通下一步安排。",
    },
    "thanks.stopped": {
        "en": "The session was stopped. No picture of you was kept.\nPlease speak with a member of staff.",
        "zh-Hans": "本次检测已停止。您的任何照片都没有被保存。\n请与工作人员沟通。",
    },
    "declined.body": {
        "en": "No problem. Nothing was recorded.\nPlease speak with a member of staff.",
        "zh-Hans": "没关系，未记录任何内容。\n请与工作人员沟通。",
    },
    "full.body": {
        "en": "The station cannot start a session right now.\nPlease call a member of staff.",
        "zh-Hans": "本设备暂时无法开始检测。\n请联系工作人员。",
    },
    # -- urgent answer (calm, never a diagnosis) and the session code -------------------
    "urgent.title": {"en": "Thank you for telling us", "zh-Hans": "谢谢您告诉我们"},
    "urgent.body": {
        "en": "A member of staff will come to talk with you shortly.\n"
        "You can carry on with the questions while you wait.",
        "zh-Hans": "工作人员很快会过来和您谈一谈。\n等待期间，您可以继续回答问题。",
    },
    "urgent.body_pause": {
        "en": "A member of staff will come to talk with you shortly.\n"
        "Please stay here; they will help you continue.",
        "zh-Hans": "工作人员很快会过来和您谈一谈。\n请在这里稍候，他们会帮助您继续。",
    },
    "urgent.badge": {"en": "Staff alert ({n})", "zh-Hans": "工作人员提醒（{n}）"},
    "btn.staff": {"en": "Staff", "zh-Hans": "工作人员"},
    "thanks.code": {
        "en": "Your session code: {code}",
        "zh-Hans": "您的检测编号：{code}",
    },
    # -- operator -------------------------------------------------------------------------
    "op.urgent": {
        "en": "URGENT ANSWER: session {code}, {item}, at {when} ({sent})",
        "zh-Hans": "紧急回答：检测 {code}，{item}，{when}（{sent}）",
    },
    "op.urgent_sent": {"en": "alert queued for the clinic", "zh-Hans": "提醒已排队发送至诊所"},
    "op.urgent_failed": {"en": "ALERT NOT QUEUED: {error}", "zh-Hans": "提醒未能排队：{error}"},
    "op.ack_alert": {"en": "Acknowledge", "zh-Hans": "确认提醒"},
    "op.last_code": {"en": "Last session code: {code}", "zh-Hans": "上次检测编号：{code}"},
    "pin.title": {"en": "Operator PIN", "zh-Hans": "操作员密码"},
    "pin.wrong": {"en": "Wrong PIN", "zh-Hans": "密码错误"},
    "op.title": {"en": "Operator menu", "zh-Hans": "操作员菜单"},
    "op.device": {
        "en": "Device: {device_id}   software {version}",
        "zh-Hans": "设备：{device_id}   软件 {version}",
    },
    "op.outbox.one": {"en": "Outbox: 1 summary waiting", "zh-Hans": "发件箱：1 份摘要待发送"},
    "op.outbox.other": {
        "en": "Outbox: {n} summaries waiting",
        "zh-Hans": "发件箱：{n} 份摘要待发送",
    },
    "op.outbox_unknown": {"en": "Outbox: not readable", "zh-Hans": "发件箱：无法读取"},
    "op.delivery_error": {"en": "Delivery problem: {error}", "zh-Hans": "发送问题：{error}"},
    "op.last_session": {
        "en": "Last session: {status}{reason}, queued in {seconds} s",
        "zh-Hans": "上次检测：{status}{reason}，{seconds} 秒内排队",
    },
    "op.camera_counts": {
        "en": "Camera frames: {captured} captured, {analysed} analysed, {dropped} dropped",
        "zh-Hans": "摄像头画面：采集 {captured}，分析 {analysed}，丢弃 {dropped}",
    },
    "op.last_sync": {"en": "Last delivery: {when}", "zh-Hans": "最近发送：{when}"},
    "op.never": {"en": "never", "zh-Hans": "从未"},
    "op.model": {"en": "Model bundle: {bundle}", "zh-Hans": "模型包：{bundle}"},
    "op.no_model": {"en": "none (landmarks only)", "zh-Hans": "无（仅面部特征点）"},
    "op.pack": {"en": "Stimulus pack: {pack}", "zh-Hans": "刺激素材包：{pack}"},
    "op.full": {
        "en": "OUTBOX FULL, no new sessions: {reason}",
        "zh-Hans": "发件箱已满，无法开始新检测：{reason}",
    },
    "op.camera_test": {"en": "Camera test", "zh-Hans": "摄像头测试"},
    "op.shutdown": {"en": "Shut down", "zh-Hans": "关闭"},
    "op.exit": {"en": "Close menu", "zh-Hans": "退出菜单"},
    "op.placeholder_warning": {
        "en": "PLACEHOLDER stimulus pack: not for clinical use",
        "zh-Hans": "占位刺激素材包：不可用于临床",
    },
}
