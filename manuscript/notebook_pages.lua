-- The executed notebooks as standalone web pages, all in one pandoc process.
--
--   printf '%s\n' NOTEBOOK.ipynb ... | pandoc lua manuscript/notebook_pages.lua OUTPUT_FOLDER
--
-- Writes OUTPUT_FOLDER/<name>.html for each notebook named on standard input (one path a
-- line), titled with the notebook's name. The list comes on standard input, not as arguments:
-- pandoc 3.9's `pandoc lua` crashes (segmentation fault) when given more than about 80 of them.
-- It does what `pandoc NOTEBOOK -f ipynb -t html5 -s --metadata title=<name>` does, for
-- a list of notebooks: a pandoc process per page cost about 0.07 CPU-s, nearly all of it
-- pandoc starting, and a study has a page per participant.
--
-- Text from the data stays text: pandoc's ipynb reader turns printed output and plain-text
-- results into code blocks (escaped when written), and the only HTML that passes through is
-- what a notebook displays as HTML (pandas escapes the cells of the tables it renders).
--
-- Each output of a notebook can carry several representations (a table as HTML and as
-- plain text, a figure as PNG and as text). A web page shows one: HTML first, then an image,
-- then text; raw output for other formats (LaTeX) last. Pictures are embedded as data URIs,
-- so a page is one file that needs nothing beside it and fetches nothing.
-- Each page is written to a temporary file and renamed, so a failed run leaves no half page.

local function rank(block)
  if block.t == "RawBlock" then
    return block.format == "html" and 1 or 3
  end
  if block.t == "Para" and #block.content == 1 and block.content[1].t == "Image" then
    return 1
  end
  return 2
end

local one_representation = {
  Div = function(div)
    if div.classes:includes("output") and #div.content > 1 then
      local chosen, best = nil, math.huge
      for _, block in ipairs(div.content) do
        local r = rank(block)
        if r < best then
          chosen, best = block, r
        end
      end
      div.content = { chosen }
      return div
    end
  end,
}

local embedded = {
  Image = function(image)
    local mime, contents = pandoc.mediabag.lookup(image.src)
    if mime then
      image.src = pandoc.mediabag.make_data_uri(mime, contents)
      return image
    end
  end,
}

-- A problem stops the run with one message naming the file and the fix (no Lua traceback).
local function fail(what, why, fix)
  io.stderr:write("pages: " .. what .. ": " .. tostring(why) .. "\n    fix: " .. fix .. "\n")
  os.exit(1)
end

local folder = arg[1]
if not folder or #arg ~= 1 then
  fail("usage", "pandoc lua manuscript/notebook_pages.lua OUTPUT_FOLDER < list of notebooks", "see the Makefile")
end
local template = pandoc.template.compile(pandoc.template.default("html5"))
local rerun = "delete it and run `make all` again, which executes the notebook anew"

for path in io.lines() do
  if path == "" then
    goto next -- a blank line names nothing
  end
  local name = path:match("([^/]+)%.ipynb$")
  if not name then
    fail(path, "not a notebook (.ipynb)", "pass executed notebooks only")
  end
  local input, why = io.open(path, "rb")
  if not input then
    fail(path, why, rerun)
  end
  local text = input:read("a")
  input:close()
  local read, doc = pcall(pandoc.read, text, "ipynb")
  if not read then
    fail(path, "not readable as a notebook (" .. tostring(doc):gsub("%s+", " ") .. ")", rerun)
  end
  doc = doc:walk(one_representation):walk(embedded)
  doc.meta.title = pandoc.Inlines(name)
  local html = pandoc.write(doc, "html5", { template = template })
  local target = folder .. "/" .. name .. ".html"
  local output, cannot = io.open(target .. ".tmp", "wb")
  if not output or not output:write(html) or not output:close() or not os.rename(target .. ".tmp", target) then
    os.remove(target .. ".tmp")
    fail(target, cannot or "could not be written", "check that the folder exists and has space")
  end
  ::next::
end
