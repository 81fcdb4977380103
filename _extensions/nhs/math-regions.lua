-- Under Quarto, as the built-in renderer does (healthgap.render.builtin.scrollable_math): every
-- display equation, and every inline one whose TeX is longer than 60 characters, goes in a
-- named, keyboard-focusable region ("Equation 1", "Equation 2", ... in page order) that the theme
-- (nhs.css, .hg-math) lets scroll sideways, because MathML does not break a long equation across
-- lines and on a phone it would run out of the column.
local LONG_INLINE_TEX = 60
local count = 0

function Math(el)
  local inline = el.mathtype == "InlineMath"
  if inline and #el.text:gsub("^%s+", ""):gsub("%s+$", "") <= LONG_INLINE_TEX then
    return nil
  end
  count = count + 1
  local classes = inline and { "hg-math", "hg-math-inline" } or { "hg-math" }
  local attributes = { { "role", "region" }, { "tabindex", "0" }, { "aria-label", "Equation " .. count } }
  return pandoc.Span({ el }, pandoc.Attr("", classes, attributes))
end
