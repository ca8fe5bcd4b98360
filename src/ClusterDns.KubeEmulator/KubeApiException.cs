using System.Text.Json.Nodes;

namespace ClusterDns.KubeEmulator;

/// <summary>An API error as kube-apiserver reports it: an HTTP code, a Status reason and a message.</summary>
public sealed class KubeApiException : Exception
{
    public KubeApiException(int code, string reason, string message, string? name = null, string? kind = null, string? group = null)
        : base(message)
    {
        Code = code;
        Reason = reason;
        Name = name;
        Kind = kind;
        Group = group;
    }

    public int Code { get; }
    public string Reason { get; }
    public string? Name { get; }
    public string? Kind { get; }
    public string? Group { get; }

    internal static KubeApiException NotFound(ResourceType t, string name) =>
        new(404, "NotFound", $"{QualifiedResource(t)} \"{name}\" not found", name, t.Plural, t.Group);

    internal static KubeApiException AlreadyExists(ResourceType t, string name) =>
        new(409, "AlreadyExists", $"{QualifiedResource(t)} \"{name}\" already exists", name, t.Plural, t.Group);

    internal static KubeApiException Conflict(ResourceType t, string name) =>
        new(409, "Conflict", $"Operation cannot be fulfilled on {QualifiedResource(t)} \"{name}\": the object has been modified; please apply your changes to the latest version and try again", name, t.Plural, t.Group);

    internal static KubeApiException BadRequest(string message) => new(400, "BadRequest", message);

    internal static KubeApiException Invalid(ResourceType t, string name, string message) =>
        new(422, "Invalid", $"{t.Kind} \"{name}\" is invalid: {message}", name, t.Kind, t.Group);

    internal static string QualifiedResource(ResourceType t) => t.Group.Length == 0 ? t.Plural : t.Plural + "." + t.Group;

    /// <summary>The Status object kube-apiserver would send for this error.</summary>
    public JsonObject ToStatus()
    {
        var status = new JsonObject
        {
            ["kind"] = "Status",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject(),
            ["status"] = "Failure",
            ["message"] = Message,
            ["reason"] = Reason,
        };
        if (Name is not null || Kind is not null)
        {
            var details = new JsonObject();
            if (Name is not null) details["name"] = Name;
            if (!string.IsNullOrEmpty(Group)) details["group"] = Group;
            if (Kind is not null) details["kind"] = Kind;
            status["details"] = details;
        }
        status["code"] = Code;
        return status;
    }
}
