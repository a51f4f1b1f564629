// Package orttest runs ONNX models with ONNX Runtime from tests and checks in models/
// and its subpackages. Require loads the runtime through
// encoder.InitRuntime; when the library is not installed the test is
// skipped with a pointer to `make setup`, unless the environment sets
// BERTSERVE_REQUIRE_ORT=1 (as CI does), in which case it fails.
//
//	orttest.Require(t)
//	out := orttest.Run(t, modelBytes, []orttest.Input{{Name: "x", Shape: []int64{1, 3}, Float32: x}}, []string{"y"}, nil)
//
// Session keeps one loaded model for many runs; Options.OptimizedPath
// saves the graph ONNX Runtime actually executes, to check which fusions
// applied.
package orttest
