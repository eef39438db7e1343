/**
 * The one message catalogue. Every text a Discord member reads comes from
 * here, rendered in the interaction's locale. English is the reference:
 * the Chinese table is typed against it, so a missing key fails the build,
 * and a test checks that both sides use the same {placeholders}.
 */
const en = {
  // Generic
  'error.generic': 'Something went wrong on our side (reference `{ref}`). Please try again in a moment.',
  'error.guild_only': 'This command only works in a server.',
  'error.no_permission': 'You need the **Manage Server** permission to change these settings.',

  // /sora validation
  'sora.prompt_empty': 'The prompt is empty. Describe the scene you want, e.g. `a corgi surfing at sunset`.',
  'sora.prompt_too_long': 'The prompt is {length} characters long; the limit is {max}. Please shorten it.',
  'sora.model_unknown': 'Unknown model `{model}`. Choose one of: {models}.',
  'sora.model_not_allowed': 'The model `{model}` is not allowed on this server. Allowed: {models}.',
  'sora.duration_unsupported': '{seconds} s videos need {models}. `{model}` supports {durations} s.',
  'sora.size_unsupported': 'The size `{size}` needs {models}. `{model}` supports {sizes}.',
  'sora.image_and_url': 'Use either `image` or `image_url`, not both.',
  'sora.image_type': 'The image must be PNG, JPEG or WebP (got `{type}`).',
  'sora.image_too_big': 'The image is {size}; the limit is {max}. Please use a smaller image.',
  'sora.image_unreadable': 'The image could not be downloaded from Discord or is not a PNG, JPEG or WebP file. Please upload it again.',
  'sora.url_invalid': '`{option}` must be an http(s) link, e.g. `https://example.com/clip.mp4`.',
  'sora.timestamps_format': '`character_timestamps` must look like `start,end` in seconds, e.g. `1,3`.',
  'sora.timestamps_range': 'The character clip must be 1 to 3 seconds long (you gave {length} s), e.g. `1,3`.',
  'sora.timestamps_without_source': '`character_timestamps` needs `character_url` or `character_from_task`.',
  'sora.character_create_without_url': '`character_create` needs `character_url` (the video to take the character from).',
  'sora.task_id_invalid': '`character_from_task` must be a task id like `sora-2:task_01k…` (see `/sora-jobs`).',
  'sora.channel_not_allowed': '`/sora` is not enabled in this channel. Try: {channels}.',
  'sora.limit_active': 'You already have {active} video(s) in progress (limit {max} at once). Try again when one finishes.',
  'sora.limit_daily': 'You reached today’s limit of {max} video(s). It resets {reset}.',
  'sora.duplicate': 'This request was already received.',

  // Job display
  'job.title': 'Sora video',
  'job.status.submitting': 'Sending to the video service…',
  'job.status.queued': 'Queued',
  'job.status.in_progress': 'Generating',
  'job.status.completed': 'Finished — posting the video…',
  'job.status.delivering': 'Finished — posting the video…',
  'job.status.delivered': 'Done',
  'job.status.delivery_failed': 'Finished, but the video could not be posted',
  'job.status.failed': 'Failed',
  'job.status.timed_out': 'Timed out',
  'job.status.submit_failed': 'Not started',
  'job.field.prompt': 'Prompt',
  'job.field.status': 'Status',
  'job.field.model': 'Model',
  'job.field.duration': 'Duration',
  'job.field.size': 'Size',
  'job.field.options': 'Options',
  'job.field.started': 'Started',
  'job.field.eta': 'Time left',
  'job.field.reason': 'Reason',
  'job.field.task': 'Task',
  'job.value.seconds': '{seconds} s',
  'job.value.eta': 'about {eta}',
  'job.option.private': 'private',
  'job.option.watermark': 'watermark',
  'job.option.image': 'reference image',
  'job.option.character': 'character',
  'job.locked_note': 'Server setting applied: {settings}.',
  'job.failed_reason': '{message}',
  'job.failed_unknown': 'The video service did not give a reason.',
  'job.timed_out_reason': 'The video was not ready after {minutes} minutes, so the bot stopped waiting. Nothing more will be charged for it.',
  'job.submit_interrupted': 'The bot restarted while sending this request, so it is not known whether the video service received it. It was not sent again, to avoid charging twice — run `/sora` again if no video appears.',
  'job.submit_rejected': 'The video service refused the request: {message}',
  'job.submit_unavailable': 'The video service is unavailable right now ({message}). Nothing was charged; please try again later.',
  'job.submit_unknown': 'The video service did not answer ({message}). It may still make the video, but the bot cannot follow it, and it was not sent again to avoid charging twice. Check `/sora-jobs` later or run `/sora` again.',
  'job.delivered_here': 'The video is here: {link}',
  'job.delivery_failed_reason': 'The video was made but could not be posted here. Download it: {url}',
  'job.delivery_failed_nolink': 'The video was made but could not be posted here, and the video service gave no link for it.',
  'final.content': '{mention} your video is ready!',
  'final.failed_content': '{mention} your video could not be made.',
  'final.link_note': 'The file ({size}) is larger than this channel’s upload limit ({limit}), so here is a link instead: {url}',
  'final.link_only': 'Here is the link to your video: {url}',
  'duration.minutes': '{n} min',
  'duration.seconds': '{n} s',
} as const;

export type MessageKey = keyof typeof en;

const zhCN: Record<MessageKey, string> = {
  'error.generic': '我们这边出了点问题（参考编号 `{ref}`）。请稍后再试。',
  'error.guild_only': '此命令只能在服务器中使用。',
  'error.no_permission': '需要 **管理服务器** 权限才能修改这些设置。',

  'sora.prompt_empty': '提示词为空。请描述你想要的画面，例如 `一只柯基在日落时冲浪`。',
  'sora.prompt_too_long': '提示词长度为 {length} 个字符，上限为 {max}。请缩短。',
  'sora.model_unknown': '未知模型 `{model}`。可选：{models}。',
  'sora.model_not_allowed': '本服务器不允许使用模型 `{model}`。允许的模型：{models}。',
  'sora.duration_unsupported': '{seconds} 秒的视频需要 {models}。`{model}` 支持 {durations} 秒。',
  'sora.size_unsupported': '尺寸 `{size}` 需要 {models}。`{model}` 支持 {sizes}。',
  'sora.image_and_url': '`image` 和 `image_url` 只能二选一。',
  'sora.image_type': '图片必须是 PNG、JPEG 或 WebP 格式（收到的是 `{type}`）。',
  'sora.image_too_big': '图片大小为 {size}，上限为 {max}。请换一张更小的图片。',
  'sora.image_unreadable': '无法从 Discord 下载该图片，或它不是 PNG、JPEG、WebP 文件。请重新上传。',
  'sora.url_invalid': '`{option}` 必须是 http(s) 链接，例如 `https://example.com/clip.mp4`。',
  'sora.timestamps_format': '`character_timestamps` 的格式必须是 `开始,结束`（单位：秒），例如 `1,3`。',
  'sora.timestamps_range': '角色片段长度必须在 1 到 3 秒之间（你填写的是 {length} 秒），例如 `1,3`。',
  'sora.timestamps_without_source': '`character_timestamps` 需要配合 `character_url` 或 `character_from_task` 使用。',
  'sora.character_create_without_url': '`character_create` 需要提供 `character_url`（提取角色的视频）。',
  'sora.task_id_invalid': '`character_from_task` 必须是任务 ID，例如 `sora-2:task_01k…`（可在 `/sora-jobs` 中查看）。',
  'sora.channel_not_allowed': '此频道未启用 `/sora`。请前往：{channels}。',
  'sora.limit_active': '你已有 {active} 个视频正在生成（同时最多 {max} 个）。请等其中一个完成后再试。',
  'sora.limit_daily': '你已达到今日 {max} 个视频的上限。额度将于 {reset} 重置。',
  'sora.duplicate': '此请求已收到。',

  'job.title': 'Sora 视频',
  'job.status.submitting': '正在提交到视频服务…',
  'job.status.queued': '排队中',
  'job.status.in_progress': '生成中',
  'job.status.completed': '已完成 — 正在发布视频…',
  'job.status.delivering': '已完成 — 正在发布视频…',
  'job.status.delivered': '完成',
  'job.status.delivery_failed': '已完成，但视频未能发布',
  'job.status.failed': '失败',
  'job.status.timed_out': '已超时',
  'job.status.submit_failed': '未开始',
  'job.field.prompt': '提示词',
  'job.field.status': '状态',
  'job.field.model': '模型',
  'job.field.duration': '时长',
  'job.field.size': '尺寸',
  'job.field.options': '选项',
  'job.field.started': '开始于',
  'job.field.eta': '剩余时间',
  'job.field.reason': '原因',
  'job.field.task': '任务',
  'job.value.seconds': '{seconds} 秒',
  'job.value.eta': '约 {eta}',
  'job.option.private': '私有',
  'job.option.watermark': '水印',
  'job.option.image': '参考图片',
  'job.option.character': '角色',
  'job.locked_note': '已应用服务器设置：{settings}。',
  'job.failed_reason': '{message}',
  'job.failed_unknown': '视频服务没有给出原因。',
  'job.timed_out_reason': '等待 {minutes} 分钟后视频仍未完成，机器人已停止等待。此任务不会再产生费用。',
  'job.submit_interrupted': '提交此请求时机器人重启了，无法确定视频服务是否已收到。为避免重复扣费，请求没有再次发送 — 如果没有视频出现，请重新运行 `/sora`。',
  'job.submit_rejected': '视频服务拒绝了请求：{message}',
  'job.submit_unavailable': '视频服务暂时不可用（{message}）。没有扣费，请稍后再试。',
  'job.submit_unknown': '视频服务没有响应（{message}）。视频可能仍会生成，但机器人无法跟踪；为避免重复扣费，请求没有再次发送。请稍后查看 `/sora-jobs` 或重新运行 `/sora`。',
  'job.delivered_here': '视频在这里：{link}',
  'job.delivery_failed_reason': '视频已生成，但无法在此发布。下载链接：{url}',
  'job.delivery_failed_nolink': '视频已生成，但无法在此发布，且视频服务没有提供下载链接。',
  'final.content': '{mention} 你的视频已生成！',
  'final.failed_content': '{mention} 你的视频未能生成。',
  'final.link_note': '文件（{size}）超过了此频道的上传上限（{limit}），因此改为发送链接：{url}',
  'final.link_only': '视频链接：{url}',
  'duration.minutes': '{n} 分钟',
  'duration.seconds': '{n} 秒',
};

export const CATALOGUES: Readonly<Record<'en-US' | 'zh-CN', Record<MessageKey, string>>> = { 'en-US': en, 'zh-CN': zhCN };
export type SupportedLocale = keyof typeof CATALOGUES;

/** Discord locales we render; everything else falls back to English. */
export function resolveLocale(locale: string | null | undefined): SupportedLocale {
  if (locale === 'zh-CN') return 'zh-CN';
  return 'en-US';
}

export type MessageParams = Record<string, string | number>;

export function t(locale: string | null | undefined, key: MessageKey, params: MessageParams = {}): string {
  const template = CATALOGUES[resolveLocale(locale)][key];
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
}
