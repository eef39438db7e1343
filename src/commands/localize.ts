/** The Simplified Chinese localization of a command, option or choice name or description. */
export const zh = (text: string) => ({ 'zh-CN': text });
