// Home: the demo rooms this server seeded (fairlot serve --demo), as cards.
import { applyI18n, el, onLangChange, renderHeader, serverConfig, t } from "./common.js";

const CARDS = [
  ["auction", "home_auction", "home_auction_text"],
  ["sale", "home_sale", "home_sale_text"],
  ["draw", "home_draw", "home_draw_text"],
  ["live_draw", "home_live_draw", "home_live_draw_text"],
  ["dutch", "home_dutch", "home_dutch_text"],
  ["sealed", "home_sealed", "home_sealed_text"],
  ["reverse", "home_reverse", "home_reverse_text"],
  ["multi", "home_multi", "home_multi_text"],
  ["certificate", "home_certificate", "home_certificate_text"],
  ["verify", "home_verify", "home_verify_text"],
  ["host", "home_host", "home_host_text"],
];

async function main() {
  await renderHeader({ active: "/" });
  const { links = {} } = await serverConfig();
  const draw = () => {
    const cards = CARDS.filter(([k]) => links[k]).map(([k, title, text]) =>
      el("a", { class: "card", href: links[k], style: "text-decoration:none;color:inherit", "data-link": k },
        el("h2", {}, t(title)), el("p", { class: "muted", style: "margin:0" }, t(text))));
    document.getElementById("links").replaceChildren(...cards);
    document.getElementById("no-demo").hidden = cards.length > 0;
  };
  draw();
  onLangChange(draw);
  applyI18n();
  document.body.dataset.ready = "1";
}
main();
