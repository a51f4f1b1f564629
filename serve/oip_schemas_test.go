package serve

// oipSchemas are the Open Inference Protocol's REST messages, as
// kserve/open-inference-protocol's REST specification defines them
// ($inference_response, $metadata_model_response, $ready_*_response,
// $live_server_response, the error responses).
const oipSchemas = `{
  "$defs": {
    "tensor": {"type": "object", "required": ["name", "shape", "datatype"], "properties": {
      "name": {"type": "string"}, "shape": {"type": "array", "items": {"type": "integer"}},
      "datatype": {"enum": ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES"]},
      "parameters": {"type": "object"}, "data": {"type": "array"}}},
    "infer": {"type": "object", "required": ["model_name", "outputs"], "properties": {
      "model_name": {"type": "string"}, "model_version": {"type": "string"}, "id": {"type": "string"},
      "parameters": {"type": "object"}, "outputs": {"type": "array", "items": {"$ref": "#/$defs/tensor"}}}},
    "tensor_metadata": {"type": "object", "required": ["name", "datatype", "shape"], "properties": {
      "name": {"type": "string"}, "datatype": {"type": "string"}, "shape": {"type": "array", "items": {"type": "integer"}}}},
    "model_metadata": {"type": "object", "required": ["name", "platform", "inputs", "outputs"], "properties": {
      "name": {"type": "string"}, "versions": {"type": "array", "items": {"type": "string"}}, "platform": {"type": "string"},
      "inputs": {"type": "array", "items": {"$ref": "#/$defs/tensor_metadata"}},
      "outputs": {"type": "array", "items": {"$ref": "#/$defs/tensor_metadata"}}}},
    "server_metadata": {"type": "object", "required": ["name", "version", "extensions"], "properties": {
      "name": {"type": "string"}, "version": {"type": "string"}, "extensions": {"type": "array", "items": {"type": "string"}}}},
    "live": {"type": "object", "required": ["live"], "properties": {"live": {"type": "boolean"}}},
    "ready": {"type": "object", "required": ["ready"], "properties": {"ready": {"type": "boolean"}, "name": {"type": "string"}}},
    "error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
  }
}`
