# ClusterDns image: a drop-in for the CoreDNS image in the cluster DNS add-on (deploy/).
#
#   docker build -t clusterdns:latest .
#
# Framework-dependent for now: the runtime image carries .NET, the image layer carries only our assemblies.
# (Self-contained or Native AOT would move to runtime-deps:10.0-noble-chiseled and ENTRYPOINT ["/app/ClusterDns"].)

# The build runs on the builder's own platform whatever --platform asks for: the output is IL, the same on every
# architecture, so multi-arch builds need no emulation.
FROM --platform=$BUILDPLATFORM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src

# Restore first, from the project files alone, so a source change does not re-download packages.
COPY Directory.Build.props ClusterDns.sln Corefile.example ./
COPY src/ClusterDns/ClusterDns.csproj src/ClusterDns/
COPY src/ClusterDns.Server/ClusterDns.Server.csproj src/ClusterDns.Server/
COPY src/ClusterDns.Kubernetes/ClusterDns.Kubernetes.csproj src/ClusterDns.Kubernetes/
COPY src/ClusterDns.KubeEmulator/ClusterDns.KubeEmulator.csproj src/ClusterDns.KubeEmulator/
RUN dotnet restore src/ClusterDns

COPY src/ src/
# The same command as the publish step in deploy/README.md ("Build the image"); keep the two in step.
RUN dotnet publish src/ClusterDns -c Release -o /out

# Chiseled Ubuntu 24.04 with the .NET runtime: no shell, no package manager, and the non-root user `app`
# (UID 1654) by default, which the Deployment's runAsUser names. The aspnet flavour, not plain runtime: the
# executable references ClusterDns.KubeEmulator (for --demo), which needs the Microsoft.AspNetCore.App framework,
# and ClusterDns.runtimeconfig.json lists it; on the runtime image the process would not start. Once --demo no
# longer pulls ASP.NET Core in, runtime:10.0-noble-chiseled is enough.
FROM mcr.microsoft.com/dotnet/aspnet:10.0-noble-chiseled
WORKDIR /app
COPY --from=build /out /app

# DNS, then health (:8080/health), ready (:8181/ready) and metrics (:9153/metrics), as CoreDNS.
EXPOSE 53/udp 53/tcp 8080 8181 9153

# CoreDNS's flags. The Deployment passes the same -conf; the ConfigMap is mounted at /etc/coredns.
ENTRYPOINT ["dotnet", "/app/ClusterDns.dll"]
CMD ["-conf", "/etc/coredns/Corefile"]
