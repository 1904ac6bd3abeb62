package report

import (
	"math"
	"reflect"
)

// sanitize returns a deep copy of the report with every NaN and ±Inf
// (which JSON cannot hold) replaced by 0, wherever it sits: the models'
// figures, their curves, extras and per-seed runs, the seed spreads and
// comparisons, the configuration. It walks the value by reflection, so a
// field added later cannot be missed (a combined report once failed to
// marshal on a NaN in a seed's extra figures, losing report.json).
func sanitize(rep *Report) *Report {
	out := finiteCopy(reflect.ValueOf(rep).Elem())
	r := out.Interface().(Report)
	return &r
}

// finiteCopy returns a copy of v whose floating-point values are all
// finite. Maps, slices and pointers are copied, never shared with v, so
// the caller's report is left as it was.
func finiteCopy(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		c := reflect.New(v.Type()).Elem()
		if f := v.Float(); !math.IsNaN(f) && !math.IsInf(f, 0) {
			c.SetFloat(f)
		}
		return c
	case reflect.Struct:
		c := reflect.New(v.Type()).Elem()
		c.Set(v)
		for i := 0; i < v.NumField(); i++ {
			if c.Field(i).CanSet() {
				c.Field(i).Set(finiteCopy(v.Field(i)))
			}
		}
		return c
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			c.Index(i).Set(finiteCopy(v.Index(i)))
		}
		return c
	case reflect.Array:
		c := reflect.New(v.Type()).Elem()
		for i := 0; i < v.Len(); i++ {
			c.Index(i).Set(finiteCopy(v.Index(i)))
		}
		return c
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		c := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			c.SetMapIndex(it.Key(), finiteCopy(it.Value()))
		}
		return c
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		c := reflect.New(v.Type().Elem())
		c.Elem().Set(finiteCopy(v.Elem()))
		return c
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		c := reflect.New(v.Type()).Elem()
		c.Set(finiteCopy(v.Elem()))
		return c
	default:
		return v
	}
}
