-- jats.lua: for the JATS XML output only. The template writes the abstract and keywords
-- as a section for readers; JATS wants them in the front matter. This filter moves the
-- "Abstract" section (up to the next top-level heading, Practitioner points included)
-- into the abstract metadata and the "Keywords:" paragraph into the keywords list.

local stringify = pandoc.utils.stringify

function Pandoc(doc)
  local body, abstract, keywords = {}, nil, nil
  local in_abstract = false
  for _, block in ipairs(doc.blocks) do
    if block.t == "Header" and block.level == 1 then
      in_abstract = stringify(block) == "Abstract"
      if in_abstract then abstract = {} end
    end
    if in_abstract then
      if block.t == "Header" and block.level == 1 then
        -- the heading itself is implied by <abstract>
      elseif block.t == "Para" and stringify(block):match("^Keywords:") then
        keywords = {}
        local list = stringify(block):gsub("^Keywords:%s*", "")
        for word in list:gmatch("[^;]+") do
          keywords[#keywords + 1] = pandoc.MetaString((word:gsub("^%s+", ""):gsub("%s+$", "")))
        end
      else
        abstract[#abstract + 1] = block
      end
    else
      body[#body + 1] = block
    end
  end
  if abstract then doc.meta.abstract = pandoc.MetaBlocks(abstract) end
  if keywords then doc.meta.tags = pandoc.MetaList(keywords) end  -- the JATS template reads "tags"
  doc.blocks = body
  return doc
end
