using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using YamlDotNet.RepresentationModel;

namespace ClusterDns.KubeEmulator;

/// <summary>The PATCH media types kube-apiserver accepts: JSON merge patch (RFC 7386), strategic merge patch
/// (merge patch plus merge keys and $patch directives, enough for kubectl apply/label/annotate/scale),
/// JSON patch (RFC 6902) and server-side apply (approximated as a strategic merge of the applied configuration).</summary>
internal static class Patcher
{
    /// <summary>Merge keys of the list fields that strategic merge patch merges by element instead of replacing.</summary>
    private static readonly Dictionary<string, string> MergeKeys = new(StringComparer.Ordinal)
    {
        ["containers"] = "name",
        ["initContainers"] = "name",
        ["ephemeralContainers"] = "name",
        ["volumes"] = "name",
        ["env"] = "name",
        ["volumeMounts"] = "mountPath",
        ["volumeDevices"] = "devicePath",
        ["imagePullSecrets"] = "name",
        ["conditions"] = "type",
        ["ownerReferences"] = "uid",
        ["hostAliases"] = "ip",
        ["topologySpreadConstraints"] = "topologyKey",
        ["resourceClaims"] = "name",
    };

    public static JsonNode? Apply(string mediaType, JsonObject current, byte[] patch)
    {
        switch (mediaType)
        {
            case "application/merge-patch+json":
                return MergePatch(current, ParseJson(patch));
            case "application/strategic-merge-patch+json":
                return StrategicMerge(current, ParseJson(patch), "");
            case "application/json-patch+json":
                return JsonPatch(current, ParseJson(patch) as JsonArray ?? throw KubeApiException.BadRequest("a JSON patch must be an array of operations"));
            case "application/apply-patch+yaml":
                return StrategicMerge(current, ParseApplyConfiguration(patch), "");
            default:
                throw new KubeApiException(415, "UnsupportedMediaType", $"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml");
        }
    }

    public static JsonObject ParseApplyConfiguration(byte[] body)
    {
        try
        {
            if (JsonNode.Parse(body) is JsonObject o) return o;
        }
        catch (JsonException)
        {
            // Not JSON: YAML below.
        }
        var yaml = new YamlStream();
        try
        {
            yaml.Load(new StringReader(Encoding.UTF8.GetString(body)));
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            throw KubeApiException.BadRequest("error decoding YAML: " + e.Message);
        }
        if (yaml.Documents.Count == 0 || FromYaml(yaml.Documents[0].RootNode) is not JsonObject obj)
        {
            throw KubeApiException.BadRequest("the apply configuration is not an object");
        }
        return obj;
    }

    internal static JsonNode? FromYamlNode(YamlNode node) => FromYaml(node);

    private static JsonNode? FromYaml(YamlNode node)
    {
        switch (node)
        {
            case YamlMappingNode map:
                var o = new JsonObject();
                foreach (var (k, v) in map.Children) o[((YamlScalarNode)k).Value ?? ""] = FromYaml(v);
                return o;
            case YamlSequenceNode seq:
                var a = new JsonArray();
                foreach (var item in seq.Children) a.Add(FromYaml(item));
                return a;
            case YamlScalarNode s:
                var text = s.Value ?? "";
                if (s.Style is YamlDotNet.Core.ScalarStyle.Plain)
                {
                    if (text is "" or "~" or "null" or "Null" or "NULL") return null;
                    if (text is "true" or "True" or "TRUE") return JsonValue.Create(true);
                    if (text is "false" or "False" or "FALSE") return JsonValue.Create(false);
                    if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)) return JsonValue.Create(l);
                    if (text.All(c => char.IsAsciiDigit(c) || c is '.' or 'e' or 'E' or '-' or '+')
                        && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d))
                    {
                        return JsonValue.Create(d);
                    }
                }
                return JsonValue.Create(text);
            default:
                return null;
        }
    }

    private static JsonNode? ParseJson(byte[] body)
    {
        try
        {
            return JsonNode.Parse(body);
        }
        catch (JsonException e)
        {
            throw KubeApiException.BadRequest("error decoding patch: " + e.Message);
        }
    }

    /// <summary>RFC 7386.</summary>
    public static JsonNode? MergePatch(JsonNode? target, JsonNode? patch)
    {
        if (patch is not JsonObject po) return patch?.DeepClone();
        var result = target is JsonObject t ? t.DeepClone().AsObject() : new JsonObject();
        foreach (var (k, v) in po)
        {
            if (v is null) result.Remove(k);
            else result[k] = MergePatch(result[k], v);
        }
        return result;
    }

    private static JsonNode? StrategicMerge(JsonNode? target, JsonNode? patch, string path)
    {
        if (patch is not JsonObject po) return patch?.DeepClone();
        var directive = (string?)(po["$patch"] as JsonValue);
        if (directive == "replace")
        {
            var replaced = po.DeepClone().AsObject();
            replaced.Remove("$patch");
            return replaced;
        }
        var result = target is JsonObject t ? t.DeepClone().AsObject() : new JsonObject();
        foreach (var (k, v) in po)
        {
            if (k.StartsWith("$setElementOrder/", StringComparison.Ordinal) || k is "$patch" or "$retainKeys")
            {
                continue;
            }
            if (k.StartsWith("$deleteFromPrimitiveList/", StringComparison.Ordinal))
            {
                var field = k["$deleteFromPrimitiveList/".Length..];
                if (result[field] is JsonArray list && v is JsonArray remove)
                {
                    var drop = remove.Select(x => x?.ToJsonString()).ToHashSet();
                    var kept = new JsonArray(list.Where(x => !drop.Contains(x?.ToJsonString())).Select(x => x?.DeepClone()).ToArray());
                    result[field] = kept;
                }
                continue;
            }
            if (v is null) result.Remove(k);
            else if (v is JsonObject vo && (string?)(vo["$patch"] as JsonValue) == "delete") result.Remove(k);
            else if (v is JsonArray va) result[k] = MergeList(result[k] as JsonArray, va, k, path);
            else result[k] = StrategicMerge(result[k], v, path + "/" + k);
        }
        if (po["$retainKeys"] is JsonArray retain)
        {
            var keep = retain.Select(x => (string?)x).ToHashSet();
            foreach (var key in result.Select(p => p.Key).ToList())
            {
                if (!keep.Contains(key) && !po.ContainsKey(key)) result.Remove(key);
            }
        }
        return result;
    }

    private static JsonArray MergeList(JsonArray? target, JsonArray patch, string field, string path)
    {
        if (patch.Any(e => e is JsonObject o && (string?)(o["$patch"] as JsonValue) == "replace"))
        {
            return new JsonArray(patch.Where(e => !(e is JsonObject o && o.ContainsKey("$patch"))).Select(e => e?.DeepClone()).ToArray());
        }
        string? mergeKey = field == "ports"
            ? (path.Contains("containers", StringComparison.OrdinalIgnoreCase) ? "containerPort" : "port")
            : MergeKeys.GetValueOrDefault(field);
        if (mergeKey is null || target is null)
        {
            return new JsonArray(patch.Where(e => !(e is JsonObject o && (string?)(o["$patch"] as JsonValue) == "delete")).Select(e => e?.DeepClone()).ToArray());
        }
        var result = target.Select(e => e?.DeepClone()).ToList();
        foreach (var element in patch)
        {
            if (element is not JsonObject pe || pe[mergeKey] is null)
            {
                result.Add(element?.DeepClone());
                continue;
            }
            var key = pe[mergeKey]!.ToJsonString();
            int index = result.FindIndex(e => e is JsonObject o && o[mergeKey]?.ToJsonString() == key);
            if ((string?)(pe["$patch"] as JsonValue) == "delete")
            {
                if (index >= 0) result.RemoveAt(index);
            }
            else if (index >= 0)
            {
                result[index] = StrategicMerge(result[index], pe, path + "/" + field);
            }
            else
            {
                result.Add(StrategicMerge(null, pe, path + "/" + field));
            }
        }
        return new JsonArray(result.ToArray());
    }

    /// <summary>RFC 6902.</summary>
    private static JsonNode? JsonPatch(JsonObject current, JsonArray ops)
    {
        JsonNode? doc = current.DeepClone();
        foreach (var opNode in ops)
        {
            if (opNode is not JsonObject op) throw KubeApiException.BadRequest("a JSON patch operation must be an object");
            var kind = (string?)op["op"];
            var path = (string?)op["path"] ?? throw KubeApiException.BadRequest("JSON patch operation without path");
            switch (kind)
            {
                case "add": doc = Add(doc, path, op["value"]?.DeepClone()); break;
                case "remove": doc = Remove(doc, path, out _); break;
                case "replace": doc = Add(Remove(doc, path, out _), path, op["value"]?.DeepClone()); break;
                case "move":
                    {
                        var from = (string?)op["from"] ?? throw KubeApiException.BadRequest("move without from");
                        doc = Remove(doc, from, out var moved);
                        doc = Add(doc, path, moved);
                        break;
                    }
                case "copy":
                    {
                        var from = (string?)op["from"] ?? throw KubeApiException.BadRequest("copy without from");
                        doc = Add(doc, path, Resolve(doc, from)?.DeepClone());
                        break;
                    }
                case "test":
                    if (!JsonNode.DeepEquals(Resolve(doc, path), op["value"]))
                    {
                        throw new KubeApiException(422, "Invalid", $"the server rejected our request due to an error in our request: testing value {path} failed");
                    }
                    break;
                default:
                    throw KubeApiException.BadRequest($"unexpected JSON patch operation \"{kind}\"");
            }
        }
        return doc;
    }

    private static string[] Pointer(string path) =>
        path.Length == 0 ? [] : path[1..].Split('/').Select(s => s.Replace("~1", "/").Replace("~0", "~")).ToArray();

    private static JsonNode? Resolve(JsonNode? doc, string path)
    {
        foreach (var seg in Pointer(path))
        {
            doc = doc switch
            {
                JsonObject o when o.TryGetPropertyValue(seg, out var v) => v,
                JsonArray a when int.TryParse(seg, out var i) && i >= 0 && i < a.Count => a[i],
                _ => throw new KubeApiException(422, "Invalid", $"the server rejected our request: doc is missing path: \"{path}\""),
            };
        }
        return doc;
    }

    private static JsonNode? Add(JsonNode? doc, string path, JsonNode? value)
    {
        var segs = Pointer(path);
        if (segs.Length == 0) return value;
        var parent = Resolve(doc, "/" + string.Join('/', segs[..^1].Select(s => s.Replace("~", "~0").Replace("/", "~1"))));
        if (segs.Length == 1) parent = doc;
        var last = segs[^1];
        switch (parent)
        {
            case JsonObject o: o[last] = value; break;
            case JsonArray a when last == "-": a.Add(value); break;
            case JsonArray a when int.TryParse(last, out var i) && i >= 0 && i <= a.Count: a.Insert(i, value); break;
            default: throw new KubeApiException(422, "Invalid", $"the server rejected our request: doc is missing path: \"{path}\"");
        }
        return doc;
    }

    private static JsonNode? Remove(JsonNode? doc, string path, out JsonNode? removed)
    {
        var segs = Pointer(path);
        var parent = segs.Length == 1 ? doc : Resolve(doc, "/" + string.Join('/', segs[..^1].Select(s => s.Replace("~", "~0").Replace("/", "~1"))));
        var last = segs[^1];
        switch (parent)
        {
            case JsonObject o when o.TryGetPropertyValue(last, out var v):
                o.Remove(last);
                removed = v;
                break;
            case JsonArray a when int.TryParse(last, out var i) && i >= 0 && i < a.Count:
                removed = a[i];
                a.RemoveAt(i);
                break;
            default:
                throw new KubeApiException(422, "Invalid", $"the server rejected our request: doc is missing path: \"{path}\"");
        }
        return doc;
    }
}
