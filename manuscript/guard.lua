-- guard.lua: runs before citeproc on every manuscript format.
-- The template writes no raw HTML, raw typst, TeX or math, and data text reaches pandoc
-- escaped; anything of that kind in the document is therefore an error, not content.
-- Images may only be the build's own figures, links only in-page, to the notebook pages
-- or to DOIs.

local function fail(what)
  error("guard.lua: the document holds " .. what ..
        " that manuscript/template.md did not write; check the data for markup (make validate)")
end

local function allowed_image(src)
  return src:match("^data:image/png;base64,[%w+/=]+$") ~= nil
      or src:match("^/?figures/[%w_]+%.png$") ~= nil
end

local function allowed_link(target)
  return target:sub(1, 1) == "#" or target:match("^notebooks/[%w_.-]+%.html$") ~= nil
      or target:match("^https://doi%.org/") ~= nil
end

return {
  {
    RawBlock = function(el) fail("a raw " .. el.format .. " block") end,
    RawInline = function(el) fail("raw " .. el.format .. " text") end,
    Math = function() fail("TeX math") end,
    Image = function(el)
      if not allowed_image(el.src) then fail("an image from " .. el.src:sub(1, 60)) end
    end,
    Link = function(el)
      if not allowed_link(el.target) then fail("a link to " .. el.target:sub(1, 60)) end
    end,
  }
}
