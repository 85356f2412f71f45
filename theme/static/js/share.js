// Share actions, a progressive enhancement of the plain share links: the system
// share sheet (Web Share API: reaches Zalo and the other apps on a phone) and
// "copy link". Without this script, or without the APIs, the buttons stay hidden.
for (const button of document.querySelectorAll(".share-native")) {
  if (!navigator.share) continue;
  button.hidden = false;
  button.addEventListener("click", () => {
    navigator.share({ title: button.dataset.title, url: button.dataset.url }).catch(() => {});
  });
}
for (const button of document.querySelectorAll(".share-copy")) {
  if (!navigator.clipboard) continue;
  const status = button.closest(".share").querySelector(".share-status");
  button.hidden = false;
  button.addEventListener("click", () => {
    navigator.clipboard.writeText(button.dataset.url).then(
      () => { status.textContent = "Đã sao chép liên kết."; },
      () => { status.textContent = "Không sao chép được; hãy chép địa chỉ trên thanh trình duyệt."; },
    );
  });
}
