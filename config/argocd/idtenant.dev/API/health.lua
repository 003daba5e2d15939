-- Argo CD health check for idtenant.dev Tenant, Application and API (the
-- three scripts are identical). It reads status as kstatus does (Flux,
-- cli-utils, kubectl wait), so Argo CD and Flux agree:
--   status.observedGeneration absent, -1 (not yet observed) or not
--     metadata.generation                          -> Progressing
--   Stalled=True (only a spec change helps)         -> Degraded, its message
--   Reconciling=True (waiting for something)        -> Progressing, its message
--   Ready=True                                      -> Healthy, the summary
--   Ready False or Unknown without the others, or
--     no Ready yet                                  -> Progressing
-- Only Lua's base library is used: scripts from argocd-cm run without the
-- string library.
local hs = {}
local kind = obj.kind or "object"
local status = obj.status
local observed = nil
if status ~= nil then
  observed = status.observedGeneration
end
if type(observed) ~= "number" or observed < 0 then
  hs.status = "Progressing"
  hs.message = "Waiting for the idtenant operator to observe this " .. kind .. "."
  return hs
end
local generation = nil
if obj.metadata ~= nil then
  generation = obj.metadata.generation
end
if type(generation) == "number" and observed ~= generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the idtenant operator to observe generation " .. tostring(generation) ..
    " of this " .. kind .. " (status describes generation " .. tostring(observed) .. ")."
  return hs
end

local ready = nil
local reconciling = nil
local stalled = nil
if status.conditions ~= nil then
  for _, c in ipairs(status.conditions) do
    if c.type == "Ready" then
      ready = c
    elseif c.type == "Reconciling" then
      reconciling = c
    elseif c.type == "Stalled" then
      stalled = c
    end
  end
end

if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = stalled.message or ""
  return hs
end
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = reconciling.message or ""
  return hs
end
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or ""
  return hs
end
hs.status = "Progressing"
if ready ~= nil then
  hs.message = ready.message or ""
else
  hs.message = "Waiting for the Ready condition."
end
return hs
