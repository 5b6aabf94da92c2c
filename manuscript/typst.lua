-- typst.lua: for the PDF (typst) only, after guard.lua. In typst markup a line that
-- starts with "1. ", "- ", "+ ", "= " or "/ " opens a list, heading or term, and pandoc's
-- typst writer does not escape that at the start of a table cell ("1. Self-compassion
-- as a contradiction" in Table 2 became a numbered list). Escape the marker.

local markers = { ["-"] = true, ["+"] = true, ["="] = true, ["/"] = true }

local function escape_start(block)
  local first, second = block.content[1], block.content[2]
  if not first or first.t ~= "Str" or not second or second.t ~= "Space" then return nil end
  local digits = first.text:match("^(%d+)%.$")
  if digits then
    block.content[1] = pandoc.RawInline("typst", digits .. "\\.")
    return block
  end
  if markers[first.text] then
    block.content[1] = pandoc.RawInline("typst", "\\" .. first.text)
    return block
  end
end

-- Floating tables and figures must not drift past the reference list: place every
-- pending float before the "References" heading.
local function flush_before_references(el)
  if el.level == 1 and pandoc.utils.stringify(el) == "References" then
    return { pandoc.RawBlock("typst", "#place.flush()"), el }
  end
end

return { { Plain = escape_start, Para = escape_start, Header = flush_before_references } }
