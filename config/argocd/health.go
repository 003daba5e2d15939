// Package argocd holds idtenant's Argo CD health checks, in Argo CD's
// upstream layout (idtenant.dev/<Kind>/health.lua with health_test.yaml and
// testdata/), and runs them the way Argo CD does, so tests can assess both
// the exported testdata and live objects.
package argocd

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"time"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Scripts holds idtenant.dev/<Kind>/health.lua.
//
//go:embed idtenant.dev/*/health.lua
var Scripts embed.FS

// Group is the API group the scripts assess.
const Group = "idtenant.dev"

// Kinds are the kinds with a health check.
var Kinds = []string{"Tenant", "Application", "API"}

// Health is Argo CD's verdict on one resource (gitops-engine's
// health.HealthStatus).
type Health struct {
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

// Argo CD's health status codes.
const (
	Healthy     = "Healthy"
	Progressing = "Progressing"
	Degraded    = "Degraded"
	Suspended   = "Suspended"
	Missing     = "Missing"
	Unknown     = "Unknown"
)

// Script returns the health check of kind.
func Script(kind string) (string, error) {
	b, err := Scripts.ReadFile(Group + "/" + kind + "/health.lua")
	if err != nil {
		return "", fmt.Errorf("no health check for %s/%s: %w", Group, kind, err)
	}
	return string(b), nil
}

// Assess runs the health check of obj's kind on obj.
func Assess(obj *unstructured.Unstructured) (Health, error) {
	script, err := Script(obj.GetKind())
	if err != nil {
		return Health{}, err
	}
	return Run(script, obj)
}

// Run executes a health script as Argo CD (util/lua) executes one configured
// in argocd-cm: a fresh VM without the standard libraries except package,
// base and table (argocd-cm scripts do not get useOpenLibs; Argo CD's "safe"
// os subset is left out, so a script using it fails here rather than
// passing), the object as the global table obj (integers as numbers, null as
// nil), a one-second deadline, and the returned table read as
// {status, message}. A status outside Argo CD's codes reads as Unknown, as in
// Argo CD.
func Run(script string, obj *unstructured.Unstructured) (Health, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			return Health{}, fmt.Errorf("opening Lua library %q: %w", lib.name, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj.Object))
	if err := l.DoString(script); err != nil {
		return Health{}, fmt.Errorf("running health.lua: %w", err)
	}
	ret := l.Get(-1)
	tbl, ok := ret.(*lua.LTable)
	if !ok {
		return Health{}, fmt.Errorf("expect table output from Lua script, not %s", ret.Type())
	}
	// Argo CD encodes the table as JSON and decodes a HealthStatus from it.
	b, err := json.Marshal(fromLua(tbl))
	if err != nil {
		return Health{}, fmt.Errorf("encoding the script's result: %w", err)
	}
	var h Health
	if err := json.Unmarshal(b, &h); err != nil {
		return Health{}, fmt.Errorf("decoding the script's result %s: %w", b, err)
	}
	switch h.Status {
	case Healthy, Progressing, Degraded, Suspended, Missing, Unknown:
		return h, nil
	}
	return Health{Status: Unknown, Message: "Lua returned an invalid health status"}, nil
}

// toLua converts a decoded JSON value as Argo CD's decodeValue does.
func toLua(l *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case int32:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case json.Number:
		return lua.LString(v)
	case string:
		return lua.LString(v)
	case []any:
		t := l.CreateTable(len(v), 0)
		for _, item := range v {
			t.Append(toLua(l, item))
		}
		return t
	case map[string]any:
		t := l.CreateTable(0, len(v))
		for k, item := range v {
			t.RawSetH(lua.LString(k), toLua(l, item))
		}
		return t
	}
	return lua.LNil
}

// fromLua converts the script's result for JSON encoding: a table with keys
// 1..n is an array, any other table an object (gopher-json's rule).
func fromLua(v lua.LValue) any {
	switch v := v.(type) {
	case lua.LBool:
		return bool(v)
	case lua.LNumber:
		return float64(v)
	case lua.LString:
		return string(v)
	case *lua.LTable:
		if n := v.MaxN(); n > 0 {
			arr := make([]any, 0, n)
			for i := 1; i <= n; i++ {
				arr = append(arr, fromLua(v.RawGetInt(i)))
			}
			return arr
		}
		m := map[string]any{}
		v.ForEach(func(k, val lua.LValue) { m[k.String()] = fromLua(val) })
		return m
	}
	return nil
}
