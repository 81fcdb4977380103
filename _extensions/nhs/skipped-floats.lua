-- skipped-floats.lua: sections skipped for this dataset are not numbered figures or tables.
--
-- A chapter shows a figure or table only when the dataset supports it; otherwise its cell's
-- only output is a skip note (`<div class="hg-skip ...">`, healthgap.book.Book.skip). The cell
-- still has its `fig-`/`tbl-` label and caption, so Quarto would number it ("Figure 2.3: ..."
-- above a note saying the figure is not there) and link `@fig-...` references to it. This
-- filter runs before Quarto parses floats (`at: pre-ast`, declared in _extension.yml):
--
-- * a `#fig-x`/`#tbl-x` div whose content is only skip notes (and, for a figure, its caption
--   paragraph) becomes `<div id="fig-x" class="hg-float-skipped hg-float-skipped-fig">` with
--   the note alone: no caption, no number, and the next figure takes the number;
-- * a reference to it reads "Figure (not shown for this dataset)" as plain text
--   ("(not shown for this dataset)" for `[-@fig-x]`), not a link.
--
-- The built-in renderer does the same (healthgap.render.crossref). Tested with pandoc on the
-- markdown Quarto's Jupyter engine writes (tests/test_quarto_semantics.py).

local SKIP_NOTE = '<div[^>]-class="[^"]-hg%-skip[^"]-"[^>]->.-</div>'
local NOT_SHOWN = "(not shown for this dataset)"
local KIND_NAMES = { fig = "Figure", tbl = "Table" }

local skipped = {}

-- true when `text` is one or more skip notes and nothing else
local function only_notes(text)
  local rest, count = text:gsub(SKIP_NOTE, "")
  return count > 0 and rest:match("^%s*$") ~= nil
end

-- true when `block` is a skip note: raw HTML, or a cell-output div holding only skip notes
local function note_block(block)
  if block.t == "RawBlock" then
    return block.format == "html" and only_notes(block.text)
  end
  if block.t == "Div" and #block.content > 0 then
    for _, inner in ipairs(block.content) do
      if not note_block(inner) then
        return false
      end
    end
    return true
  end
  return false
end

local function float_div(div)
  local kind = div.identifier:match("^(fig)%-") or div.identifier:match("^(tbl)%-")
  if kind == nil then
    return nil
  end
  local content = pandoc.List(div.content)
  -- a figure cell's caption is the paragraph after its output (Quarto's Jupyter engine)
  if kind == "fig" and #content > 1 and (content[#content].t == "Para" or content[#content].t == "Plain") then
    content:remove(#content)
  end
  if #content == 0 then
    return nil
  end
  for _, block in ipairs(content) do
    if not note_block(block) then
      return nil
    end
  end
  skipped[div.identifier] = kind
  local open = '<div id="' .. div.identifier .. '" class="hg-float-skipped hg-float-skipped-' .. kind .. '">'
  local out = pandoc.List({ pandoc.RawBlock("html", open) })
  out:extend(content)
  out:insert(pandoc.RawBlock("html", "</div>"))
  return out
end

local function cite(el)
  local any = false
  for _, c in ipairs(el.citations) do
    if skipped[c.id] then
      any = true
    end
  end
  if not any then
    return nil
  end
  local out = pandoc.List()
  for i, c in ipairs(el.citations) do
    if i > 1 then
      out:extend({ pandoc.Str(","), pandoc.Space() })
    end
    local kind = skipped[c.id]
    if kind then
      if c.prefix and #c.prefix > 0 then
        out:extend(c.prefix)
        out:insert(pandoc.Space())
      end
      local text = c.mode == "SuppressAuthor" and NOT_SHOWN or (KIND_NAMES[kind] .. " " .. NOT_SHOWN)
      out:insert(pandoc.Span({ pandoc.Str(text) }, pandoc.Attr("", { "hg-xref-skipped" })))
      if c.suffix and #c.suffix > 0 then
        out:extend(c.suffix)
      end
    else
      out:insert(pandoc.Cite({ pandoc.Str("@" .. c.id) }, { c }))
    end
  end
  return out
end

return {
  { Div = float_div },
  { Cite = cite },
}
