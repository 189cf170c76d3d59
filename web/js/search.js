// Enterprise search by name or USCC (统一社会信用代码): type, pick, and the map flies there.

import { api, query } from "./api.js";
import { debounce, fill, h } from "./dom.js";
import { t } from "../i18n.js";

const LIMIT = 8;

export function setupSearch(input, list, { onPick }) {
  let items = [];
  let active = -1;
  let controller = null;

  const close = () => {
    list.hidden = true;
    active = -1;
  };

  const highlight = (index) => {
    active = index;
    [...list.querySelectorAll("li[data-uscc]")].forEach((li, i) => li.setAttribute("aria-selected", String(i === index)));
  };

  const pick = (enterprise) => {
    close();
    input.value = enterprise.name;
    onPick(enterprise);
  };

  const run = debounce(async () => {
    const q = input.value.trim();
    if (q.length < 2) {
      close();
      return;
    }
    controller?.abort();
    controller = new AbortController();
    try {
      const result = await api(`/api/v1/enterprises${query({ q, limit: LIMIT })}`, { signal: controller.signal });
      items = result.data;
      fill(list,
        items.map((e, i) => h("li", {
          dataset: { uscc: e.uscc },
          role: "option",
          onmousedown: (event) => {
            event.preventDefault();
            pick(items[i]);
          },
        }, h("div", e.name), h("div.sub", [e.uscc, e.grid_code, e.placement ? t(`placement.${e.placement}`) : null].filter(Boolean).join(" · ")))),
        items.length ? null : h("li.note", t("search.none")),
        result.count > items.length ? h("li.note", t("search.more", { count: result.count, shown: items.length })) : null);
      list.hidden = false;
      highlight(items.length ? 0 : -1);
    } catch (error) {
      if (error.name === "AbortError") return;
      fill(list, h("li.note", error.message));
      list.hidden = false;
    }
  }, 250);

  input.addEventListener("input", run);
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" && items.length) {
      event.preventDefault();
      highlight((active + 1) % items.length);
    } else if (event.key === "ArrowUp" && items.length) {
      event.preventDefault();
      highlight((active - 1 + items.length) % items.length);
    } else if (event.key === "Enter" && active >= 0 && !list.hidden) {
      event.preventDefault();
      pick(items[active]);
    } else if (event.key === "Escape") {
      close();
    }
  });
  input.addEventListener("blur", () => setTimeout(close, 150));
}
