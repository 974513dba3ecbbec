using System.Collections.Concurrent;
using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace MLNetExtensions.Core.Interop;

/// <summary>
/// The one place that reaches into ML.NET internals (written against Microsoft.ML 5.0.1). ML.NET keeps model
/// persistence (<c>ModelSaveContext</c> members, <c>ModelLoadContext</c>, <c>VersionInfo</c>,
/// <c>LoadableClassAttribute</c>) and a few schema helpers internal (dotnet/machinelearning#4911, #6839), so
/// third-party transformers cannot otherwise take part in <c>mlContext.Model.Save/Load</c>. Every member is
/// looked up once; a missing one fails with a message naming the ML.NET version this was written for.
/// </summary>
internal static class MLNetInternals
{
    private const string WrittenFor = "Microsoft.ML 5.0.1";
    private const BindingFlags Any = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static;

    private static readonly Assembly CoreAsm = typeof(IHostEnvironment).Assembly;    // Microsoft.ML.Core
    private static readonly Assembly DataAsm = typeof(MLContext).Assembly;           // Microsoft.ML.Data

    private static Type T(Assembly a, string name) =>
        a.GetType(name) ?? throw Broken($"type {name}");

    private static InvalidOperationException Broken(string what) => new(
        $"MLNetExtensions model persistence was written for {WrittenFor}; the installed ML.NET ({DataAsm.GetName().Version}) " +
        $"no longer has {what}. Pin Microsoft.ML to 5.0.1 or upgrade MLNetExtensions.");

    private static MethodInfo M(Type t, string name, params Type[] args) =>
        t.GetMethod(name, Any, null, args, null) ?? throw Broken($"{t.Name}.{name}({string.Join(", ", args.Select(a => a.Name))})");

    private static FieldInfo F(Type t, string name) => t.GetField(name, Any) ?? throw Broken($"{t.Name}.{name}");

    // --- saving -------------------------------------------------------------------------------------------------
    private static readonly Lazy<Type> VersionInfoType = new(() => T(CoreAsm, "Microsoft.ML.VersionInfo"));
    private static readonly Lazy<ConstructorInfo> VersionInfoCtor = new(() =>
        VersionInfoType.Value.GetConstructor(Any, new[] { typeof(string), typeof(uint), typeof(uint), typeof(uint), typeof(string), typeof(string), typeof(string) })
        ?? throw Broken("VersionInfo(string, uint, uint, uint, string, string, string)"));
    private static readonly Lazy<MethodInfo> SaveCheckAtModel = new(() => M(typeof(ModelSaveContext), "CheckAtModel"));
    private static readonly Lazy<MethodInfo> SaveSetVersionInfo = new(() => M(typeof(ModelSaveContext), "SetVersionInfo", VersionInfoType.Value));
    private static readonly Lazy<FieldInfo> SaveWriter = new(() => F(typeof(ModelSaveContext), "Writer"));
    private static readonly Lazy<MethodInfo> SaveBinary = new(() => M(typeof(ModelSaveContext), "SaveBinaryStream", typeof(string), typeof(Action<BinaryWriter>)));

    /// <summary>Identity of a saved component: 8-char model signature, versions, and ≤24-char loader signature.</summary>
    internal sealed record ModelVersion(string ModelSignature, uint Written, uint ReadableBy, uint WeCanReadBack, string LoaderSignature);

    private static object MakeVersionInfo(ModelVersion v, Type loaderType) =>
        VersionInfoCtor.Value.Invoke(new object?[] { v.ModelSignature, v.Written, v.ReadableBy, v.WeCanReadBack,
            loaderType.Assembly.FullName, v.LoaderSignature, null });

    /// <summary>Writes a component into the model zip: version header, a main payload and named binary streams.</summary>
    internal static void Save(ModelSaveContext ctx, ModelVersion version, Type loaderType, Action<BinaryWriter> main,
        IEnumerable<(string Name, Action<BinaryWriter> Write)> streams)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        SaveCheckAtModel.Value.Invoke(ctx, null);
        SaveSetVersionInfo.Value.Invoke(ctx, new[] { MakeVersionInfo(version, loaderType) });
        var writer = (BinaryWriter)SaveWriter.Value.GetValue(ctx)!;
        main(writer);
        foreach (var (name, write) in streams)
            SaveBinary.Value.Invoke(ctx, new object[] { name, write });
    }

    // --- loading ------------------------------------------------------------------------------------------------
    private static readonly Lazy<Type> LoadCtxType = new(() => T(CoreAsm, "Microsoft.ML.ModelLoadContext"));
    private static readonly Lazy<MethodInfo> LoadCheckAtModel = new(() => M(LoadCtxType.Value, "CheckAtModel", VersionInfoType.Value));
    private static readonly Lazy<FieldInfo> LoadReader = new(() => F(LoadCtxType.Value, "Reader"));
    private static readonly Lazy<FieldInfo> LoadHeader = new(() => F(LoadCtxType.Value, "Header"));
    private static readonly Lazy<MethodInfo> LoadBinary = new(() => M(LoadCtxType.Value, "TryLoadBinaryStream", typeof(string), typeof(Action<BinaryReader>)));

    /// <summary>What a loader sees of ML.NET's (internal) <c>ModelLoadContext</c>.</summary>
    internal sealed class LoadContext
    {
        private readonly object _ctx;
        internal LoadContext(object ctx, uint versionWritten, BinaryReader reader) { _ctx = ctx; VersionWritten = versionWritten; Reader = reader; }
        public uint VersionWritten { get; }
        public BinaryReader Reader { get; }
        /// <summary>
        /// Reads a named binary stream; throws naming it when absent, when it cannot be decompressed or when its bytes do
        /// not match the zip entry's CRC-32 (every persistence version; v2 streams are also SHA-256 checked by the caller).
        /// </summary>
        public T ReadStream<T>(string name, Func<BinaryReader, T> read)
        {
            byte[]? bytes = null;
            bool found;
            try
            {
                found = (bool)LoadBinary.Value.Invoke(_ctx, new object[] { name, new Action<BinaryReader>(r =>
                {
                    using var ms = new MemoryStream();
                    r.BaseStream.CopyTo(ms);
                    bytes = ms.ToArray();
                }) })!;
            }
            catch (TargetInvocationException e) when (e.InnerException is InvalidDataException or IOException)
            {
                throw new InvalidDataException($"The model zip is corrupt: stream '{name}' cannot be read ({e.InnerException!.Message}).", e.InnerException);
            }
            if (!found) throw new InvalidDataException($"The model file lacks the stream '{name}'; it is corrupt or was written by another version.");
            var entry = ZipEntry(_ctx, name);
            if (entry != null && entry.Length == bytes!.Length && entry.Crc32 != Crc32(bytes))
                throw new InvalidDataException($"The model zip is corrupt: stream '{entry.FullName}' does not match its zip CRC-32.");
            using var reader = new BinaryReader(new MemoryStream(bytes!, writable: false));
            return read(reader);
        }
    }

    private static readonly Lazy<FieldInfo> LoadRepository = new(() => F(LoadCtxType.Value, "Repository"));
    private static readonly Lazy<FieldInfo> LoadDirectory = new(() => F(LoadCtxType.Value, "Directory"));

    /// <summary>The zip entry behind <paramref name="name"/> in the component's folder (null when ML.NET read no zip).</summary>
    private static System.IO.Compression.ZipArchiveEntry? ZipEntry(object ctx, string name)
    {
        var repo = LoadRepository.Value.GetValue(ctx);
        if (repo == null) return null;
        var archive = repo.GetType().GetFields(Any).Select(f => f.GetValue(repo)).OfType<System.IO.Compression.ZipArchive>().FirstOrDefault()
            ?? throw Broken("RepositoryReader's ZipArchive");
        var dir = (string?)LoadDirectory.Value.GetValue(ctx);
        var path = (string.IsNullOrEmpty(dir) ? name : dir + "/" + name).Replace('\\', '/');
        return archive.Entries.FirstOrDefault(e => e.FullName.Replace('\\', '/') == path);
    }

    private static readonly uint[] CrcTable = Enumerable.Range(0, 256).Select(n =>
    {
        uint c = (uint)n;
        for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    /// <summary>The zip format's CRC-32.</summary>
    internal static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint c = 0xFFFFFFFFu;
        foreach (var b in data) c = CrcTable[(c ^ b) & 0xFF] ^ (c >> 8);
        return c ^ 0xFFFFFFFFu;
    }

    /// <summary>Checks the version header of the component being loaded and opens it for reading.</summary>
    internal static LoadContext OpenLoad(object ctx, ModelVersion version, Type loaderType)
    {
        if (!LoadCtxType.Value.IsInstanceOfType(ctx)) throw new ArgumentException($"Expected ML.NET's ModelLoadContext, got {ctx?.GetType().FullName ?? "null"}.");
        LoadCheckAtModel.Value.Invoke(ctx, new[] { MakeVersionInfo(version, loaderType) });
        var header = LoadHeader.Value.GetValue(ctx)!;
        var verWritten = (uint)F(header.GetType(), "ModelVerWritten").GetValue(header)!;
        return new LoadContext(ctx, verWritten, (BinaryReader)LoadReader.Value.GetValue(ctx)!);
    }

    /// <summary>Saves a component whose whole description is one JSON-serialised options object (no binary streams).</summary>
    internal static void SaveJson<T>(ModelSaveContext ctx, ModelVersion version, Type loaderType, T description) =>
        Save(ctx, version, loaderType, w => w.Write(System.Text.Json.JsonSerializer.Serialize(description)),
            Array.Empty<(string, Action<BinaryWriter>)>());

    /// <summary>Loads what <see cref="SaveJson"/> wrote; <paramref name="what"/> names the component in the error.</summary>
    internal static T LoadJson<T>(object ctx, ModelVersion version, Type loaderType, string what) =>
        System.Text.Json.JsonSerializer.Deserialize<T>(OpenLoad(ctx, version, loaderType).Reader.ReadString())
        ?? throw new InvalidDataException($"The {what}'s description is empty.");

    // --- registration -------------------------------------------------------------------------------------------
    private static readonly ConcurrentDictionary<(ComponentCatalog, string), bool> Registered = new();

    /// <summary>
    /// Tells <paramref name="catalog"/> that models saved with <paramref name="loaderSignature"/> are created by
    /// <paramref name="create"/>, a static <c>(IHostEnvironment env, object ctx)</c> method returning the transformer.
    /// </summary>
    /// <summary>Registers <paramref name="type"/>'s private static <c>Create(IHostEnvironment, object)</c> as its loader.</summary>
    internal static void RegisterCreateLoader(ComponentCatalog catalog, Type type, string loaderSignature) =>
        RegisterLoader(catalog, type, loaderSignature,
            type.GetMethod("Create", BindingFlags.NonPublic | BindingFlags.Static, new[] { typeof(Microsoft.ML.Runtime.IHostEnvironment), typeof(object) })
                ?? throw new InvalidOperationException($"{type.Name} has no private static Create(IHostEnvironment, object) loader."));

    internal static void RegisterLoader(ComponentCatalog catalog, Type instanceType, string loaderSignature, MethodInfo create)
    {
        if (!Registered.TryAdd((catalog, loaderSignature), true)) return;
        var attrType = T(CoreAsm, "Microsoft.ML.LoadableClassAttribute");
        var sigType = T(CoreAsm, "Microsoft.ML.SignatureLoadModel");
        var attrCtor = attrType.GetConstructor(Any, new[] { typeof(Type), typeof(Type), typeof(Type), typeof(Type), typeof(string), typeof(string[]) })
            ?? throw Broken("LoadableClassAttribute(Type, Type, Type, Type, string, string[])");
        var attr = attrCtor.Invoke(new object?[] { instanceType, instanceType, null, sigType, instanceType.Name, new[] { loaderSignature } });
        var infoType = T(CoreAsm, "Microsoft.ML.Runtime.ComponentCatalog+LoadableClassInfo");
        var infoCtor = infoType.GetConstructors(Any).FirstOrDefault(c => c.GetParameters().Length == 5)
            ?? throw Broken("ComponentCatalog.LoadableClassInfo(attr, getter, ctor, create, requireEnvironment)");
        var info = infoCtor.Invoke(new object?[] { attr, null, null, create, true });
        var add = M(typeof(ComponentCatalog), "AddClass", infoType, typeof(string[]), typeof(bool));
        try { add.Invoke(catalog, new object[] { info, new[] { loaderSignature }, true }); }
        catch (TargetInvocationException e) when (e.InnerException != null)
        {
            Registered.TryRemove((catalog, loaderSignature), out _);
            throw new InvalidOperationException($"Registering loader '{loaderSignature}' with ML.NET failed: {e.InnerException.Message}", e.InnerException);
        }
    }

    // --- environment and schema helpers -------------------------------------------------------------------------
    /// <summary>The environment behind a catalog (explicit <c>IInternalCatalog.Environment</c>), whose channels reach MLContext.Log.</summary>
    internal static IHostEnvironment GetEnvironment(object catalog)
    {
        if (catalog is MLContext ml) return ml;
        var iface = catalog.GetType().GetInterfaces().FirstOrDefault(i => i.Name == "IInternalCatalog")
            ?? throw Broken($"IInternalCatalog on {catalog.GetType().Name}");
        var prop = iface.GetProperty("Environment") ?? throw Broken("IInternalCatalog.Environment");
        return (IHostEnvironment)prop.GetValue(catalog)!;
    }

    private static readonly Lazy<ConstructorInfo> SchemaColumnCtor = new(() =>
        typeof(SchemaShape.Column).GetConstructors(Any).FirstOrDefault(c => c.GetParameters().Length == 5)
        ?? throw Broken("SchemaShape.Column(string, VectorKind, DataViewType, bool, SchemaShape)"));

    /// <summary>Builds a <see cref="SchemaShape.Column"/> (its constructor is internal).</summary>
    internal static SchemaShape.Column MakeColumn(string name, SchemaShape.Column.VectorKind kind, Microsoft.ML.Data.DataViewType itemType,
        bool isKey, SchemaShape? annotations = null) =>
        (SchemaShape.Column)SchemaColumnCtor.Value.Invoke(new object?[] { name, kind, itemType, isKey, annotations ?? new SchemaShape(Array.Empty<SchemaShape.Column>()) });

    private static readonly Lazy<MethodInfo> ShapeCreate = new(() => M(typeof(SchemaShape), "Create", typeof(DataViewSchema)));

    /// <summary>The <see cref="SchemaShape"/> of a schema (ML.NET's <c>SchemaShape.Create</c> is internal).</summary>
    internal static SchemaShape ShapeOf(DataViewSchema schema) => (SchemaShape)ShapeCreate.Value.Invoke(null, new object[] { schema })!;

    /// <summary>True when ML.NET's own cancellation (e.g. AutoML's CancelExecution) has been requested on the host.</summary>
    internal static bool IsCanceled(IHostEnvironment env)
    {
        var p = env.GetType().GetProperty("IsCanceled", Any);
        return p?.GetValue(env) is true;
    }
}
