// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
)

var (
	_ resource.Resource                = (*artifactResource)(nil)
	_ resource.ResourceWithConfigure   = (*artifactResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*artifactResource)(nil)
	_ resource.ResourceWithImportState = (*artifactResource)(nil)
)

func newArtifactResource() resource.Resource { return &artifactResource{} }

// artifactResource is ecr_artifact: files pushed as an OCI 1.1 artifact,
// optionally referring to a subject manifest. It owns its manifest and tags
// as ecr_image owns an image, through the same ecrpush.Deploy and Destroy.
type artifactResource struct {
	client *client
}

type artifactResourceModel struct {
	targetModel
	SubjectDigest types.String   `tfsdk:"subject_digest"`
	ArtifactType  types.String   `tfsdk:"artifact_type"`
	Files         types.List     `tfsdk:"files"`
	Annotations   types.Map      `tfsdk:"annotations"`
	Tags          types.Set      `tfsdk:"tags"`
	KeepRemotely  types.Bool     `tfsdk:"keep_remotely"`
	Digest        types.String   `tfsdk:"digest"`
	ID            types.String   `tfsdk:"id"`
	Timeouts      timeouts.Value `tfsdk:"timeouts"`
}

type artifactFileModel struct {
	Path      types.String `tfsdk:"path"`
	MediaType types.String `tfsdk:"media_type"`
}

var artifactFileType = types.ObjectType{AttrTypes: map[string]attr.Type{"path": types.StringType, "media_type": types.StringType}}

func mediaTypeValidator() validator.String {
	return stringvalidator.RegexMatches(ecrpush.MediaTypeRegexp, "must be a media type, type/subtype, such as "+
		"application/spdx+json (no parameters)")
}

func (r *artifactResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_artifact"
}

func (r *artifactResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := schema.StringAttribute{PlanModifiers: []planmodifier.String{
		stringplanmodifier.UseStateForUnknown(), stringplanmodifier.RequiresReplace()}}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Pushes files to an ECR repository as an OCI 1.1 artifact, as `oras push` does, with no " +
			"Docker daemon: an OCI image manifest whose `artifactType` says what it is, whose config is the empty " +
			"descriptor, and whose layers are the files, each titled with its name. With `subject_digest` it refers " +
			"to another manifest of the repository (an SBOM, a signature or a provenance of an image), and ECR " +
			"lists it among that manifest's referrers; without, it is any artifact (a Helm chart, a WASM module, a " +
			"policy bundle) pulled by tag or digest.\n\n" +
			"The manifest is written the same way every time, so `digest` is known at plan, computed from the files' " +
			"digests (each file is hashed once per plan, and not again while it is unchanged) and the subject's " +
			"descriptor, read from ECR or from the `ecr_image` that plans it in the same run. New files, a new " +
			"subject or new annotations are an in-place update with the same rules as `ecr_image`'s: the new " +
			"artifact is pushed, the tags move to it, and the old one is removed.",
		Attributes: resourceTargetAttributes(map[string]schema.Attribute{
			"subject_digest": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Digest (`sha256:` and 64 lowercase hex digits) of the manifest in the same " +
					"repository this artifact refers to, such as `ecr_image.app.image_digest`. Its media type and size " +
					"go into the artifact's `subject`: they are read from ECR at plan, or from an `ecr_image` planned in " +
					"the same run; when neither knows it yet, `digest` is known only after apply. The subject must be in " +
					"the repository when the artifact is pushed.",
				Validators: []validator.String{stringvalidator.RegexMatches(layerDigestRegexp,
					"must be a digest, sha256: and 64 lowercase hex digits")},
			},
			"artifact_type": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "The artifact's `artifactType`, a media type such as `application/spdx+json`, " +
					"`application/vnd.cncf.helm.config.v1+json` or `application/vnd.dev.sigstore.bundle.v0.3+json`: " +
					"what referrers are filtered by.",
				Validators: []validator.String{mediaTypeValidator()},
			},
			"files": schema.ListNestedAttribute{
				Required: true,
				MarkdownDescription: "The files, in order: each is a layer of the artifact, titled " +
					"(`org.opencontainers.image.title`) with its base name, as `oras pull` names it. At least one; " +
					"base names must differ.",
				Validators: []validator.List{listvalidator.SizeAtLeast(1)},
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"path": schema.StringAttribute{
						Required: true,
						MarkdownDescription: "Path of the file, relative to the working directory: a regular file " +
							"that exists at plan (its digest is planned).",
						Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
					},
					"media_type": schema.StringAttribute{
						Required:            true,
						MarkdownDescription: "The file's media type, such as `application/spdx+json`.",
						Validators:          []validator.String{mediaTypeValidator()},
					},
				}},
			},
			"annotations": schema.MapAttribute{
				ElementType: types.StringType,
				Optional:    true,
				MarkdownDescription: "Annotations of the manifest, such as `org.opencontainers.image.created`. " +
					"Keys must not be empty.",
				Validators: []validator.Map{mapvalidator.KeysAre(stringvalidator.LengthAtLeast(1))},
			},
			"tags": schema.SetAttribute{
				ElementType: types.StringType,
				Optional:    true,
				Computed:    true,
				Default:     setdefault.StaticValue(types.SetValueMust(types.StringType, nil)),
				MarkdownDescription: "Tags to put on the artifact, with the same rules as `ecr_image`'s. Default: none " +
					"(a referrer is found through its subject, and needs no tag).",
				Validators: tagsValidators(),
			},
			"keep_remotely": schema.BoolAttribute{
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(false),
				MarkdownDescription: "When `true`, destroying the resource only removes it from the state, and an " +
					"update leaves the previous artifact in ECR. Default: `false`.",
			},
			"digest": schema.StringAttribute{
				Computed: true,
				MarkdownDescription: "Digest of the artifact's manifest, `sha256:` and 64 hex digits. Known at plan " +
					"unless the subject's descriptor is not (see `subject_digest`).",
			},
			"id": schema.StringAttribute{
				Computed: true,
				MarkdownDescription: "`<registry_id>/<repository_name>@<digest>`. Import takes the forms " +
					"`ecr_image` takes: `<repository_name>@<digest>`, optionally preceded by `<registry_id>/` and " +
					"`<region>/`, or `:<tag>` in place of `@<digest>`.",
			},
		}, replace),
		Blocks: map[string]schema.Block{
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Update: true}),
		},
	}
}

func (r *artifactResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	c, diags := providerClient(req.ProviderData, "ecr_artifact")
	resp.Diagnostics.Append(diags...)
	r.client = c
}

// setID fills id from what is known.
func (m *artifactResourceModel) setID() {
	m.ID = types.StringUnknown()
	if known(m.Digest) && known(m.RegistryID) && known(m.RepositoryName) {
		m.ID = types.StringValue(digestID(m.RegistryID.ValueString(), m.RepositoryName.ValueString(), m.Digest.ValueString()))
	}
}

func (r *artifactResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	r.apply(ctx, req.Plan.Get, nil, "create", &resp.State, &resp.Diagnostics)
}

func (r *artifactResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var state artifactResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	r.apply(ctx, req.Plan.Get, &state, "update", &resp.State, &resp.Diagnostics)
}

func (r *artifactResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state artifactResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || r.client == nil {
		return
	}
	target, diags := state.target(r.client)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	info, tags, found, diags := refreshOwned(ctx, r.client, target, state.Digest.ValueString(), state.ID.ValueString(), state.Tags)
	resp.Diagnostics.Append(diags...)
	if !found {
		resp.State.RemoveResource(ctx)
		return
	}
	if resp.Diagnostics.HasError() {
		return
	}
	state.Tags = tags
	if !known(state.RegistryID) || state.RegistryID.ValueString() == "" {
		state.RegistryID = types.StringValue(info.RegistryID)
	}
	if state.ArtifactType.IsNull() {
		// Just imported: what the manifest says is adopted, so that a
		// configuration naming the same artifact plans no new bytes.
		r.adoptManifest(ctx, target, &state, &resp.Diagnostics)
	}
	state.Region = types.StringValue(target.Region)
	state.setID()
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// adoptManifest reads the artifact's manifest into the state's
// artifact_type, subject_digest and annotations.
func (r *artifactResource) adoptManifest(ctx context.Context, target ecrpush.Target, state *artifactResourceModel, diags *diag.Diagnostics) {
	callCtx, done := r.client.requestContext(ctx)
	defer done()
	stored, err := ecrpush.GetImage(callCtx, r.client.ecr, target, state.Digest.ValueString())
	if err != nil {
		diags.AddError(explainImageFailure(err, r.client.accountID))
		return
	}
	var m storedArtifact
	if err := json.Unmarshal(stored.Raw, &m); err != nil || m.ArtifactType == "" {
		diags.AddError("Not an Artifact", fmt.Sprintf("The manifest %s in repository %q is not an OCI artifact "+
			"manifest (it has no artifactType): import it as ecr_image instead.", stored.Digest, target.Repository))
		return
	}
	state.ArtifactType = types.StringValue(m.ArtifactType)
	if m.Subject != nil {
		state.SubjectDigest = types.StringValue(m.Subject.Digest)
	}
	if len(m.Annotations) > 0 {
		state.Annotations, _ = types.MapValueFrom(ctx, types.StringType, m.Annotations)
	}
}

// Delete removes this resource's tags, and the artifact when no other tag
// points at it; with keep_remotely it only forgets the artifact.
func (r *artifactResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state artifactResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(ownedDelete{what: "artifact", id: state.ID.ValueString(), keep: state.KeepRemotely.ValueBool(),
		where: state.targetModel, digest: state.Digest.ValueString(), tags: state.Tags, providerData: r.client}.run(ctx)...)
}

// ImportState takes the IDs ecr_image's import takes.
func (r *artifactResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	region, registry, repository, digest, ok := importImageID(ctx, r.client, req.ID, &resp.Diagnostics)
	if !ok {
		return
	}
	m := artifactResourceModel{
		targetModel: targetModel{RepositoryName: types.StringValue(repository), RegistryID: types.StringNull(),
			Region: types.StringValue(region)},
		SubjectDigest: types.StringNull(), ArtifactType: types.StringNull(), Files: types.ListNull(artifactFileType),
		Annotations: types.MapNull(types.StringType), Tags: types.SetNull(types.StringType),
		KeepRemotely: types.BoolValue(false), Digest: types.StringValue(digest),
		Timeouts: timeouts.Value{Object: types.ObjectNull(map[string]attr.Type{
			"create": types.StringType, "update": types.StringType})},
	}
	if registry != "" {
		m.RegistryID = types.StringValue(registry)
	}
	m.setID()
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// storedArtifact is what adoptManifest reads of a manifest.
type storedArtifact struct {
	ArtifactType string              `json:"artifactType"`
	Subject      *ecrpush.Descriptor `json:"subject"`
	Annotations  map[string]string   `json:"annotations"`
}
