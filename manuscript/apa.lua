-- apa.lua: runs after citeproc. APA 7 joins the authors of a narrative citation with
-- "and" ("Pietkiewicz and Smith (2014)") and keeps "&" inside parentheses and in the
-- reference list. Many CSL styles, APA's among them, print "&" in both places; this
-- filter fixes the narrative form whatever the style, by rewriting the author part
-- (everything before the first parenthesis) of every author-in-text citation.

local function narrative(cite)
  for _, c in ipairs(cite.citations) do
    if c.mode ~= "AuthorInText" then return nil end
  end
  local before = true
  cite.content = cite.content:walk({
    Str = function(s)
      if s.text:find("%(") then before = false end
      if before and s.text == "&" then return pandoc.Str("and") end
    end,
  })
  return cite
end

return { { Cite = narrative } }
