-- tablenote.lua: an APA table note ("*Note.* ...", the paragraph right after a table)
-- becomes the table's last row, one cell across every column, so the note stays with
-- its table when the PDF lets tables float to the top of a page.

local function is_note(block)
  return block and block.t == "Para" and block.content[1] and block.content[1].t == "Emph"
      and pandoc.utils.stringify(block.content[1]) == "Note."
end

function Blocks(blocks)
  local out = pandoc.Blocks({})
  local i = 1
  while i <= #blocks do
    local block = blocks[i]
    if block.t == "Table" and is_note(blocks[i + 1]) then
      local cell = pandoc.Cell({ pandoc.Plain(blocks[i + 1].content) }, pandoc.AlignLeft, 1, #block.colspecs)
      block.foot = pandoc.TableFoot({ pandoc.Row({ cell }) })
      out:insert(block)
      i = i + 2
    else
      out:insert(block)
      i = i + 1
    end
  end
  return out
end
