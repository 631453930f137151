// i18n.js - Simplified Chinese by default, English by a switch that is remembered.
//
//   import { t, lang, setLang, applyI18n } from '/common/i18n.js';
//   t({ zh: '提交', en: 'Submit' })           -> the text in the current language
//   <span data-zh="提交" data-en="Submit"></span>  filled in by applyI18n(document)
//   <button data-lang-switch></button>        toggles and re-renders (calls onChange)

const KEY = 'ruxue.lang';

export function lang() {
  const v = typeof localStorage !== 'undefined' ? localStorage.getItem(KEY) : null;
  return v === 'en' ? 'en' : 'zh';
}

export function setLang(v) {
  localStorage.setItem(KEY, v === 'en' ? 'en' : 'zh');
  document.documentElement.lang = v === 'en' ? 'en' : 'zh-CN';
}

export function t(pair) {
  if (typeof pair === 'string') return pair;
  return lang() === 'en' ? pair.en ?? pair.zh : pair.zh ?? pair.en;
}

/** Fill every [data-zh]/[data-en] element, [data-ph-zh] placeholders and the switch. */
export function applyI18n(root = document, onChange = null) {
  document.documentElement.lang = lang() === 'en' ? 'en' : 'zh-CN';
  for (const el of root.querySelectorAll('[data-zh]')) el.textContent = t({ zh: el.dataset.zh, en: el.dataset.en });
  for (const el of root.querySelectorAll('[data-ph-zh]'))
    el.placeholder = t({ zh: el.dataset.phZh, en: el.dataset.phEn });
  for (const el of root.querySelectorAll('[data-lang-switch]')) {
    el.textContent = lang() === 'en' ? '中文' : 'English';
    el.setAttribute('aria-label', lang() === 'en' ? '切换到中文' : 'Switch to English');
    if (!el.dataset.bound) {
      el.dataset.bound = '1';
      el.addEventListener('click', () => {
        setLang(lang() === 'en' ? 'zh' : 'en');
        applyI18n(root, onChange);
        if (onChange) onChange();
      });
    }
  }
}
