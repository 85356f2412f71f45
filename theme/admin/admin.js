// The portal's additions to Decap CMS (plugins/cms): the complete Vietnamese locale
// (DVK_LOCALE_VI, prepended by the build), the site's stylesheet and page layout in
// the preview.
(function () {
  "use strict";
  var CMS = window.CMS;
  var h = window.h;
  var body = document.body.dataset;

  CMS.registerLocale("vi", DVK_LOCALE_VI);
  CMS.registerPreviewStyle(body.previewCss);

  function text(entry, name) {
    var value = entry.getIn(["data", name]);
    return value == null ? "" : String(value);
  }

  function vnDate(value) {
    var m = /^(\d{4})-(\d{2})-(\d{2})/.exec(value || "");
    return m ? m[3] + "/" + m[2] + "/" + m[1] : value;
  }

  function figure(props) {
    var image = text(props.entry, "image");
    if (!image) return null;
    var asset = props.getAsset(image);
    return h(
      "figure",
      { className: "figure" },
      h("img", { src: asset ? asset.toString() : "", alt: text(props.entry, "image_alt") }),
      text(props.entry, "image_caption")
        ? h("figcaption", {}, text(props.entry, "image_caption"))
        : null
    );
  }

  function facts(entry, rows) {
    return h(
      "dl",
      { className: "facts" },
      rows
        .filter(function (row) { return text(entry, row[0]); })
        .map(function (row) {
          return [h("dt", { key: row[0] + "t" }, row[1]), h("dd", { key: row[0] + "d" }, text(entry, row[0]))];
        })
    );
  }

  // A model looks like theme/templates/model.html.
  CMS.registerPreviewTemplate("models", function (props) {
    var entry = props.entry;
    return h(
      "main",
      { className: "wrap" },
      h(
        "article",
        { className: "item item-model" },
        h("h1", {}, text(entry, "title")),
        text(entry, "status") === "draft" ? h("p", { className: "draft" }, "Bản nháp") : null,
        h("p", { className: "meta" }, text(entry, "kind") + " “Dân vận khéo” năm " + text(entry, "year")),
        h("p", { className: "lead" }, text(entry, "summary")),
        h(
          "div",
          { className: "item-grid" },
          facts(entry, [["category", "Lĩnh vực"], ["locality", "Địa bàn"], ["year", "Năm công nhận"], ["unit", "Đơn vị thực hiện"]]),
          h("div", { className: "item-main" }, figure(props), h("div", { className: "prose" }, props.widgetFor("body")))
        )
      )
    );
  });

  // A news item looks like theme/templates/news.html.
  CMS.registerPreviewTemplate("news", function (props) {
    var entry = props.entry;
    return h(
      "main",
      { className: "wrap" },
      h(
        "article",
        { className: "item" },
        h("h1", {}, text(entry, "title")),
        text(entry, "status") === "draft" ? h("p", { className: "draft" }, "Bản nháp") : null,
        h("p", { className: "meta" }, vnDate(text(entry, "date"))),
        h("p", { className: "lead" }, text(entry, "summary")),
        figure(props),
        h("div", { className: "prose" }, props.widgetFor("body"))
      )
    );
  });

  // dvk-alt: Decap's string widget, invalid when it is blank while the field named by
  // `required_with` has a value (an image without its description; plugins/cms).
  // Decap's Widget.validate calls isValid() before every save; an error keeps the
  // entry unsaved and shows `required_message` on the field.
  var string = CMS.getWidget("string");
  var AltControl = window.createClass({
    isValid: function () {
      var field = this.props.field;
      var other = this.props.getEntry().getIn(["data", field.get("required_with")]);
      var value = this.props.value == null ? "" : String(this.props.value);
      if (value.trim() || (!other && !value)) return true;
      return { error: { type: "CUSTOM", message: field.get("required_message") } };
    },
    render: function () {
      var props = Object.assign({}, this.props);
      delete props.ref;
      return h(string.control, props);
    }
  });
  CMS.registerWidget("dvk-alt", AltControl, string.preview);

  CMS.registerPreviewTemplate("pages", function (props) {
    return h(
      "main",
      { className: "wrap" },
      h("article", { className: "item" }, h("h1", {}, text(props.entry, "title")), h("div", { className: "prose" }, props.widgetFor("body")))
    );
  });

})();
